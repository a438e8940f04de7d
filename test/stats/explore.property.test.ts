import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filteredActiveUsers } from '../../src/stats/filtered-active-users.js';
import { breakdownDau, filteredDau } from '../../src/stats/filtered-dau.js';
import { breakdownTopEvents, filteredTopEvents } from '../../src/stats/filtered-top-events.js';
import { breakdownFunnel, funnel } from '../../src/stats/funnel.js';
import { topProperties } from '../../src/stats/properties.js';
import { parseZone } from '../../src/stats/zone.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import {
  arbEvents,
  arbQuery,
  asStored,
  isoMicros,
  LITERALS,
  stored,
} from '../helpers/explore-arbitraries.js';
import {
  matches,
  numericText,
  oracleBreakdownDau,
  oracleBreakdownTopEvents,
  oracleFunnel,
  oracleProperties,
  type RawEvent,
} from '../helpers/explore-oracle.js';
import { oracleActiveUsers, oracleDau, oracleTopEvents } from '../helpers/oracle.js';
import { emptyRawEvents, insertRawEvents } from '../helpers/raw-events.js';
import { createProjectRow } from '../helpers/summaries.js';

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
  // Project 1 is `default`; the events name projects 1 and 2.
  if ((await createProjectRow(database.pool, 'other')) !== 2) throw new Error('expected project 2');
});
afterAll(async () => {
  await database.close();
});

async function insert(events: RawEvent[]) {
  await emptyRawEvents(database.pool);
  // In generation order (not time order): late and out-of-order arrivals.
  await insertRawEvents(
    database.pool,
    events.map((e) => ({ ...e, occurred_at: isoMicros(e.us) })),
  );
}

describe('numericText (the oracle) agrees with PostgreSQL jsonb', () => {
  it('for every number literal the tests use', async () => {
    const numbers = LITERALS.filter((l) => /^-?\d/.test(l));
    const { rows } = await database.pool.query(
      `SELECT x, (x::jsonb) #>> '{}' AS text FROM unnest($1::text[]) AS x`,
      [numbers],
    );
    for (const row of rows) expect(numericText(row.x)).toBe(row.text);
  });
});

describe('exploration queries equal an oracle that follows issue 17 literally', () => {
  it('funnels, filters, breakdowns, properties; two projects, DST and odd offsets, ties', async () => {
    const db = database.db;
    await fc.assert(
      fc.asyncProperty(
        arbEvents,
        fc.array(arbQuery, { minLength: 2, maxLength: 3 }),
        async (events, queries) => {
          await insert(events);
          const all = stored(events);
          for (const q of queries) {
            const [from, to] = q.a <= q.b ? [q.a, q.b] : [q.b, q.a];
            const range = { from, to };
            const zone = parseZone(q.tz);
            const mine = all.filter((e) => e.project_id === q.project && matches(e, q.filters));
            const bd = { key: q.breakdown, limit: q.valueLimit };

            expect(await funnel(db, q.project, range, zone, q.steps, q.window, q.filters)).toEqual(
              oracleFunnel(all, q.project, from, to, q.tz, q.steps, q.window, q.filters),
            );
            expect(
              await breakdownFunnel(db, q.project, range, zone, q.steps, q.window, q.filters, bd),
            ).toEqual(
              oracleFunnel(all, q.project, from, to, q.tz, q.steps, q.window, q.filters, bd),
            );
            expect(await filteredDau(db, q.project, range, zone, q.filters)).toEqual(
              oracleDau(asStored(mine), from, to, q.tz),
            );
            expect(await breakdownDau(db, q.project, range, zone, q.filters, bd)).toEqual(
              oracleBreakdownDau(all, q.project, from, to, q.tz, q.filters, bd.key, bd.limit),
            );
            expect(await filteredTopEvents(db, q.project, range, zone, q.filters, q.limit)).toEqual(
              oracleTopEvents(asStored(mine), from, to, q.tz, q.limit),
            );
            expect(
              await breakdownTopEvents(db, q.project, range, zone, q.filters, q.limit, bd),
            ).toEqual(
              oracleBreakdownTopEvents(
                all,
                q.project,
                from,
                to,
                q.tz,
                q.filters,
                q.limit,
                bd.key,
                bd.limit,
              ),
            );
            expect(await filteredActiveUsers(db, q.project, range, zone, q.filters)).toEqual(
              oracleActiveUsers(asStored(mine), from, to, q.tz),
            );
            const type = q.filters.length > 0 ? q.steps[0] : undefined;
            expect(await topProperties(db, q.project, range, zone, type)).toEqual(
              oracleProperties(all, q.project, from, to, q.tz, type),
            );
          }
        },
      ),
      { numRuns: 25 },
    );
  });
});
