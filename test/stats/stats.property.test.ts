import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import {
  addDays,
  dedupe,
  oracleActiveUsers,
  oracleDau,
  oracleRetention,
  oracleRetentionMatrix,
  oracleTopEvents,
  type StoredEvent,
} from '../helpers/oracle.js';
import { addReportZones, createProjectRow, emptyTables } from '../helpers/summaries.js';

let database: TestDatabase;
let app: FastifyInstance;

beforeAll(async () => {
  database = await createTestDatabase();
  // Summaries in these zones; Asia/Kolkata stays without, so the raw-event path is checked too.
  await addReportZones(database.pool, REPORT_ZONES);
  // A second project with its own zones; its main zone (the zone of /stats without tz) is
  // Kathmandu's, and Santiago (DST in April) is a reporting zone only there.
  await createProjectRow(database.pool, 'other', ['Asia/Kathmandu', 'America/Santiago']);
  ({ app } = await buildTestApp(database));
});
afterAll(async () => {
  await app.close();
  await database.close();
});

const USERS = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5'];
// Mixed case and a non-ASCII type, so tie ordering is checked byte-wise.
const TYPES = ['view', 'login', 'purchase', 'Login', 'Ωmega'];
const REPORT_ZONES = [
  'Europe/Kyiv',
  'America/New_York',
  'Pacific/Chatham',
  'Australia/Lord_Howe',
  'Asia/Kathmandu',
];
const ZONES = ['UTC', ...REPORT_ZONES, 'Asia/Kolkata'];
const ID_POOL = Array.from(
  { length: 60 },
  (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
);
// Spans the 2025 daylight-saving changes of New York (9 March), Kyiv (30 March), Chatham
// (+13:45 -> +12:45) and Lord Howe (30 minutes), both on 6 April local time.
const WINDOW_START = Date.UTC(2025, 2, 5);
const WINDOW_END = Date.UTC(2025, 3, 8);
const FIRST_DAY = '2025-03-03';
const LAST_DAY = '2025-04-10';

interface Generated extends StoredEvent {
  occurred_at: string;
}

/** The instant written with a random UTC offset (quarter hours from -12:00 to +14:00). */
function withOffset(epochMs: number, offsetMinutes: number): string {
  const local = new Date(epochMs + offsetMinutes * 60_000).toISOString().slice(0, 19);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

const arbEvent: fc.Arbitrary<Generated> = fc
  .record({
    id: fc.constantFrom(...ID_POOL),
    user: fc.constantFrom(...USERS),
    type: fc.constantFrom(...TYPES),
    // noBias: fast-check otherwise favours the bounds, piling events on the window's edges.
    // Anywhere in the window, or within a second of a UTC quarter-hour: every local
    // midnight of every zone is one, so events land exactly on and around day boundaries.
    seconds: fc.oneof(
      fc.noBias(fc.integer({ min: WINDOW_START / 1000, max: WINDOW_END / 1000 })),
      fc
        .record({
          quarter: fc.integer({ min: 0, max: 34 * 96 }),
          jitter: fc.constantFrom(-1, 0, 1),
        })
        .map(({ quarter, jitter }) => WINDOW_START / 1000 + quarter * 900 + jitter),
    ),
    offset: fc.integer({ min: -48, max: 56 }).map((q) => q * 15),
  })
  .map(({ id, user, type, seconds, offset }) => ({
    event_id: id,
    epochMs: seconds * 1000,
    occurred_at: withOffset(seconds * 1000, offset),
    user_id: user,
    event_type: type,
  }));

const arbDay = fc.noBias(fc.integer({ min: 0, max: 38 })).map((n) => addDays(FIRST_DAY, n));
const arbQuery = fc.record({
  tz: fc.constantFrom(...ZONES),
  a: arbDay,
  b: arbDay,
  limit: fc.integer({ min: 1, max: 6 }),
  windows: fc.integer({ min: 0, max: 12 }),
  period: fc.constantFrom('day' as const, 'week' as const),
});

const arbScenario = fc.record({
  events: fc.array(arbEvent, { minLength: 1, maxLength: 120 }),
  batchSizes: fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 10 }),
  queries: fc.array(arbQuery, { minLength: 4, maxLength: 8 }),
});

function batches<T>(items: T[], sizes: number[]): T[][] {
  const out: T[][] = [];
  let i = 0;
  for (let k = 0; i < items.length; k++) {
    const size = sizes[k % sizes.length] ?? 1;
    out.push(items.slice(i, i + size));
    i += size;
  }
  return out;
}

async function reset() {
  await emptyTables(database.pool);
}

async function post(batch: Generated[], project = 'default') {
  const payload = batch.map(({ event_id, occurred_at, user_id, event_type }) => ({
    event_id,
    occurred_at,
    user_id,
    event_type,
  }));
  const res = await app.inject({
    method: 'POST',
    url: '/events',
    payload,
    headers: { 'x-project': project },
  });
  expect(res.statusCode).toBe(202);
}

async function getJson(url: string, project = 'default') {
  const res = await app.inject({ url, headers: { 'x-project': project } });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

/** The same questions asked of the raw events table in plain SQL (UTC days). */
async function sqlDau(from: string, to: string) {
  const { rows } = await database.pool.query(
    `SELECT d::date::text AS date, (SELECT count(DISTINCT user_id) FROM events WHERE (occurred_at AT TIME ZONE 'UTC')::date = d::date)::int AS unique_users
     FROM generate_series($1::date, $2::date, interval '1 day') d ORDER BY d`,
    [from, to],
  );
  return rows;
}

async function sqlTop(from: string, to: string, limit: number) {
  const { rows } = await database.pool.query(
    `SELECT event_type, count(*)::int AS count, count(DISTINCT user_id)::int AS unique_users FROM events
     WHERE (occurred_at AT TIME ZONE 'UTC')::date BETWEEN $1 AND $2
     GROUP BY event_type ORDER BY count(*) DESC, event_type COLLATE "C" LIMIT $3`,
    [from, to, limit],
  );
  return rows;
}

async function sqlRetention(start: string, windows: number) {
  const { rows } = await database.pool.query(
    `WITH cohort AS (
       SELECT user_id FROM events GROUP BY user_id HAVING (min(occurred_at) AT TIME ZONE 'UTC')::date = $1::date
     )
     SELECT n AS day, (SELECT count(DISTINCT e.user_id) FROM events e JOIN cohort c USING (user_id)
                       WHERE (e.occurred_at AT TIME ZONE 'UTC')::date = $1::date + n)::int AS count
     FROM generate_series(0, $2::int) n ORDER BY n`,
    [start, windows],
  );
  return rows;
}

/** Every UTC day that is some user's first day, and the day before and after it. */
function cohortStarts(events: StoredEvent[]): string[] {
  const first = new Map<string, number>();
  for (const e of events)
    first.set(e.user_id, Math.min(first.get(e.user_id) ?? Infinity, e.epochMs));
  const days = new Set<string>();
  for (const ms of first.values()) {
    const day = new Date(ms).toISOString().slice(0, 10);
    for (const d of [addDays(day, -1), day, addDays(day, 1)]) days.add(d);
  }
  return [...days].sort();
}

describe('stats equal an in-memory oracle and plain SQL over raw events', () => {
  it('for random events, offsets, duplicates, late arrivals and batchings', async () => {
    await fc.assert(
      fc.asyncProperty(arbScenario, async ({ events, batchSizes, queries }) => {
        await reset();
        for (const batch of batches(events, batchSizes)) await post(batch);
        const stored = dedupe(events);

        const fullDau = await getJson(`/stats/dau?from=${FIRST_DAY}&to=${LAST_DAY}`);
        expect(fullDau).toEqual(oracleDau(stored, FIRST_DAY, LAST_DAY, 'UTC'));
        expect(fullDau).toEqual(await sqlDau(FIRST_DAY, LAST_DAY));

        // Every cohort of the data set, in UTC and in another zone.
        const cohortDays = cohortStarts(stored);
        for (const tz of ['UTC', queries[0]?.tz ?? 'UTC']) {
          for (const start of cohortDays) {
            const windows = queries[0]?.windows ?? 3;
            const url = `/stats/retention?start_date=${start}&windows=${windows}&tz=${encodeURIComponent(tz)}`;
            expect(await getJson(url)).toEqual(oracleRetention(stored, start, windows, tz));
          }
        }

        for (const q of queries) {
          const [from, to] = q.a <= q.b ? [q.a, q.b] : [q.b, q.a];
          const tz = encodeURIComponent(q.tz);
          expect(await getJson(`/stats/dau?from=${from}&to=${to}&tz=${tz}`)).toEqual(
            oracleDau(stored, from, to, q.tz),
          );
          const top = await getJson(
            `/stats/top-events?from=${from}&to=${to}&limit=${q.limit}&tz=${tz}`,
          );
          expect(top).toEqual(oracleTopEvents(stored, from, to, q.tz, q.limit));
          expect(await getJson(`/stats/active-users?from=${from}&to=${to}&tz=${tz}`)).toEqual(
            oracleActiveUsers(stored, from, to, q.tz),
          );
          expect(
            await getJson(
              `/stats/retention-matrix?from=${from}&to=${to}&windows=${q.windows}&period=${q.period}&tz=${tz}`,
            ),
          ).toEqual(
            oracleRetentionMatrix(stored, from, to, q.windows, q.period, q.tz, '2100-01-01'),
          );
          const ret = await getJson(
            `/stats/retention?start_date=${q.a}&windows=${q.windows}&tz=${tz}`,
          );
          expect(ret).toEqual(oracleRetention(stored, q.a, q.windows, q.tz));
          // Every range is also asked in UTC, the summary-table path, and checked against plain SQL.
          const topUtc = await getJson(`/stats/top-events?from=${from}&to=${to}&limit=${q.limit}`);
          expect(topUtc).toEqual(oracleTopEvents(stored, from, to, 'UTC', q.limit));
          expect(topUtc).toEqual(await sqlTop(from, to, q.limit));
          const retUtc = await getJson(`/stats/retention?start_date=${q.a}&windows=${q.windows}`);
          expect(
            retUtc.windows.map((w: { day: number; count: number }) => ({
              day: w.day,
              count: w.count,
            })),
          ).toEqual(await sqlRetention(q.a, q.windows));
        }
      }),
      { numRuns: 60 },
    );
  }, 180_000);

  it('under concurrent batches with overlapping events', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbEvent, { minLength: 20, maxLength: 150 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 2, maxLength: 8 }),
        async (events, batchSizes) => {
          await reset();
          // Duplicates here repeat identical events (which copy wins a race is not defined).
          const unique = dedupe(events);
          const withRepeats = [...unique, ...unique.filter((_, i) => i % 3 === 0)].sort(
            () => Math.random() - 0.5,
          );
          await Promise.all(batches(withRepeats, batchSizes).map((b) => post(b)));

          expect(await getJson(`/stats/dau?from=${FIRST_DAY}&to=${LAST_DAY}`)).toEqual(
            oracleDau(unique, FIRST_DAY, LAST_DAY, 'UTC'),
          );
          expect(
            await getJson(`/stats/top-events?from=${FIRST_DAY}&to=${LAST_DAY}&limit=100`),
          ).toEqual(oracleTopEvents(unique, FIRST_DAY, LAST_DAY, 'UTC', 100));
          for (let n = 0; n < 36; n += 5) {
            const start = addDays(FIRST_DAY, n);
            expect(await getJson(`/stats/retention?start_date=${start}&windows=10`)).toEqual(
              oracleRetention(unique, start, 10, 'UTC'),
            );
          }
        },
      ),
      { numRuns: 25 },
    );
  }, 180_000);

  it('per project: two projects with overlapping event and user ids each answer from their own events alone', async () => {
    const MAIN: Record<string, string> = { default: 'UTC', other: 'Asia/Kathmandu' };
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ event: arbEvent, project: fc.constantFrom('default', 'other') }), {
          minLength: 1,
          maxLength: 120,
        }),
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 6 }),
        fc.array(arbQuery, { minLength: 2, maxLength: 4 }),
        async (tagged, batchSizes, queries) => {
          await reset();
          // Batches mixing both projects, sent concurrently per project.
          await Promise.all(
            batches(tagged, batchSizes).flatMap((batch) =>
              ['default', 'other'].map((project) => {
                const mine = batch.filter((t) => t.project === project).map((t) => t.event);
                return mine.length > 0 ? post(mine, project) : Promise.resolve();
              }),
            ),
          );
          for (const project of ['default', 'other']) {
            const stored = dedupe(tagged.filter((t) => t.project === project).map((t) => t.event));
            for (const q of queries) {
              const [from, to] = q.a <= q.b ? [q.a, q.b] : [q.b, q.a];
              for (const tz of [undefined, q.tz, 'America/Santiago']) {
                const zone = tz ?? (MAIN[project] as string);
                const tzParam = tz === undefined ? '' : `&tz=${encodeURIComponent(tz)}`;
                expect(
                  await getJson(`/stats/dau?from=${from}&to=${to}${tzParam}`, project),
                ).toEqual(oracleDau(stored, from, to, zone));
                expect(
                  await getJson(
                    `/stats/top-events?from=${from}&to=${to}&limit=${q.limit}${tzParam}`,
                    project,
                  ),
                ).toEqual(oracleTopEvents(stored, from, to, zone, q.limit));
                expect(
                  await getJson(`/stats/active-users?from=${from}&to=${to}${tzParam}`, project),
                ).toEqual(oracleActiveUsers(stored, from, to, zone));
                expect(
                  await getJson(
                    `/stats/retention-matrix?from=${from}&to=${to}&windows=${q.windows}&period=${q.period}${tzParam}`,
                    project,
                  ),
                ).toEqual(
                  oracleRetentionMatrix(stored, from, to, q.windows, q.period, zone, '2100-01-01'),
                );
                expect(
                  await getJson(
                    `/stats/retention?start_date=${q.a}&windows=${q.windows}${tzParam}`,
                    project,
                  ),
                ).toEqual(oracleRetention(stored, q.a, q.windows, zone));
              }
            }
          }
        },
      ),
      { numRuns: 25 },
    );
  }, 240_000);
});
