import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import {
  arbEvents,
  arbQuery,
  asStored,
  isoMicros,
  stored,
  USERS,
} from '../helpers/explore-arbitraries.js';
import {
  byteCompare,
  type Filter,
  matches,
  oracleBreakdownDau,
  oracleBreakdownTopEvents,
  oracleFunnel,
  oracleProperties,
  type RawEvent,
} from '../helpers/explore-oracle.js';
import { oracleActiveUsers, oracleDau, oracleTopEvents } from '../helpers/oracle.js';
import { insertRawEvents } from '../helpers/raw-events.js';
import { addReportZones, createProjectRow, emptyTables } from '../helpers/summaries.js';

/**
 * The exploration routes through HTTP (issue 17) equal the oracle that follows the issue
 * literally (test/helpers/explore-oracle.ts), for two projects whose events share ids and
 * user ids: each project's answers are computed from its own events only. Unfiltered
 * questions are answered from summaries (UTC and Kyiv are reporting zones of `default`),
 * filtered and broken-down ones from raw events, both checked against the same oracle.
 */

let database: TestDatabase;
let app: FastifyInstance;
const SLUGS: Record<number, string> = { 1: 'default', 2: 'other' };

beforeAll(async () => {
  database = await createTestDatabase();
  await addReportZones(database.pool, ['Europe/Kyiv']);
  if ((await createProjectRow(database.pool, 'other', ['Asia/Kathmandu'])) !== 2) {
    throw new Error('expected project 2');
  }
  ({ app } = await buildTestApp(database));
});
afterAll(async () => {
  await app.close();
  await database.close();
});

async function insert(events: RawEvent[]) {
  await emptyTables(database.pool);
  await insertRawEvents(
    database.pool,
    events.map((e) => ({ ...e, occurred_at: isoMicros(e.us) })),
  );
  // Summaries from the raw rows, as a bulk load builds them (unfiltered questions read them).
  await database.pool.query('SELECT analytics.rebuild_summaries()');
}

async function get(project: number, path: string, params: [string, string][] = []) {
  const query = new URLSearchParams(params).toString();
  const res = await app.inject({
    url: query ? `${path}?${query}` : path,
    headers: { 'x-project': SLUGS[project] as string },
  });
  expect(res.statusCode, `${path}?${query}: ${res.body}`).toBe(200);
  return res.json();
}

/** A window in seconds as the route takes it. */
function windowParam(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  return `${seconds / 60}m`;
}

// An empty key cannot be written as `where=:v` or `breakdown=` (both are refused).
const arbHttpQuery = arbQuery.map((q) => ({
  ...q,
  filters: q.filters.filter((f) => f.key !== ''),
  breakdown: q.breakdown === '' ? 'plan' : q.breakdown,
}));

const whereParams = (filters: Filter[]): [string, string][] =>
  filters.map((f) => ['where', `${f.key}:${f.value}`]);

describe('exploration routes equal the oracle, per project', () => {
  it('funnel, dau, top-events, active-users, properties; filtered, broken down and not', async () => {
    await fc.assert(
      fc.asyncProperty(
        arbEvents,
        fc.array(arbHttpQuery, { minLength: 1, maxLength: 2 }),
        async (events, queries) => {
          await insert(events);
          const all = stored(events);
          for (const q of queries) {
            const [from, to] = q.a <= q.b ? [q.a, q.b] : [q.b, q.a];
            const p = q.project;
            const range: [string, string][] = [
              ['from', from],
              ['to', to],
              ['tz', q.tz],
            ];
            const where = whereParams(q.filters);
            const bd = { key: q.breakdown, limit: q.valueLimit };
            const bdParams: [string, string][] = [
              ['breakdown', bd.key],
              ['breakdown_limit', String(bd.limit)],
            ];
            const mine = all.filter((e) => e.project_id === p && matches(e, q.filters));
            const funnelParams: [string, string][] = [
              ['steps', q.steps.join(',')],
              ['window', windowParam(q.window)],
              ...range,
              ...where,
            ];

            expect(await get(p, '/stats/funnel', funnelParams)).toEqual(
              oracleFunnel(all, p, from, to, q.tz, q.steps, q.window, q.filters),
            );
            expect(await get(p, '/stats/funnel', [...funnelParams, ...bdParams])).toEqual(
              oracleFunnel(all, p, from, to, q.tz, q.steps, q.window, q.filters, bd),
            );
            expect(await get(p, '/stats/dau', [...range, ...where])).toEqual(
              oracleDau(asStored(mine), from, to, q.tz),
            );
            expect(await get(p, '/stats/dau', [...range, ...where, ...bdParams])).toEqual(
              oracleBreakdownDau(all, p, from, to, q.tz, q.filters, bd.key, bd.limit),
            );
            const limit: [string, string] = ['limit', String(q.limit)];
            expect(await get(p, '/stats/top-events', [...range, ...where, limit])).toEqual(
              oracleTopEvents(asStored(mine), from, to, q.tz, q.limit),
            );
            expect(
              await get(p, '/stats/top-events', [...range, ...where, limit, ...bdParams]),
            ).toEqual(
              oracleBreakdownTopEvents(
                all,
                p,
                from,
                to,
                q.tz,
                q.filters,
                q.limit,
                bd.key,
                bd.limit,
              ),
            );
            expect(await get(p, '/stats/active-users', [...range, ...where])).toEqual(
              oracleActiveUsers(asStored(mine), from, to, q.tz),
            );
            const type = q.filters.length > 0 ? q.steps[0] : undefined;
            expect(
              await get(p, '/stats/properties', [
                ...range,
                ...(type === undefined ? [] : [['event_type', type] as [string, string]]),
              ]),
            ).toEqual({ keys: oracleProperties(all, p, from, to, q.tz, type) });
          }
        },
      ),
      { numRuns: 8 },
    );
  });

  it('users: profile, timeline pages and search equal the stored events', async () => {
    await fc.assert(
      fc.asyncProperty(
        arbEvents,
        fc.constantFrom(1, 2),
        fc.integer({ min: 1, max: 9 }),
        async (events, p, pageSize) => {
          await insert(events);
          const mine = stored(events).filter((e) => e.project_id === p);
          // The properties as jsonb keeps them (-0 is 0, 1e-2 is 0.01): the timeline's text.
          const { rows } = await database.pool.query(
            'SELECT x::jsonb::text AS t FROM unnest($1::text[]) AS x',
            [mine.map((e) => e.properties)],
          );
          const asJsonb = new Map(mine.map((e, i) => [e, rows[i].t as string]));
          for (const user of [...USERS, 'nobody']) {
            const theirs = mine.filter((e) => e.user_id === user);
            const path = `/users/${encodeURIComponent(user)}`;
            const res = await app.inject({
              url: path,
              headers: { 'x-project': SLUGS[p] as string },
            });
            if (theirs.length === 0) {
              expect(res.statusCode).toBe(404);
              expect(res.json().error).toBe('not_found');
              continue;
            }
            const counts = new Map<string, number>();
            for (const e of theirs) counts.set(e.event_type, (counts.get(e.event_type) ?? 0) + 1);
            const times = theirs.map((e) => e.us).sort((a, b) => a - b);
            expect(res.json()).toEqual({
              user_id: user,
              first_seen_at: isoMicros(times[0] as number),
              last_seen_at: isoMicros(times[times.length - 1] as number),
              events: theirs.length,
              event_types: [...counts]
                .sort(([a, x], [b, y]) => y - x || byteCompare(a, b))
                .map(([event_type, count]) => ({ event_type, count })),
            });

            const expected = [...theirs]
              .sort(
                (a, b) => b.us - a.us || b.source - a.source || byteCompare(b.event_id, a.event_id),
              )
              .map((e) => ({
                event_id: e.event_id,
                occurred_at: isoMicros(e.us),
                event_type: e.event_type,
                properties: JSON.parse(asJsonb.get(e) as string),
              }));
            const seen: unknown[] = [];
            let before: string | null = null;
            let pages = 0;
            do {
              pages++;
              expect(pages).toBeLessThanOrEqual(theirs.length + 1);
              const page = await get(p, `${path}/events`, [
                ['limit', String(pageSize)],
                ...(before === null ? [] : [['before', before] as [string, string]]),
              ]);
              expect(page.events.length).toBeLessThanOrEqual(pageSize);
              for (const e of page.events) {
                expect(e.user_id).toBe(user);
                seen.push({
                  event_id: e.event_id,
                  occurred_at: e.occurred_at,
                  event_type: e.event_type,
                  properties: e.properties,
                });
              }
              before = page.next_cursor;
            } while (before !== null);
            expect(seen).toEqual(expected);
          }
          const ids = [...new Set(mine.map((e) => e.user_id))].sort(byteCompare);
          const found = await get(p, '/users', [
            ['prefix', 'u'],
            ['limit', '100'],
          ]);
          expect(found.users.map((u: { user_id: string }) => u.user_id)).toEqual(
            ids.filter((id) => id.startsWith('u')),
          );
        },
      ),
      { numRuns: 6 },
    );
  }, 60_000);
});
