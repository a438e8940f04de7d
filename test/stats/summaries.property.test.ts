import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeEvents } from '../../src/ingest/write-events.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import {
  addReportZones,
  createProjectRow,
  emptyTables,
  expectedSummaries,
  summarySnapshot,
} from '../helpers/summaries.js';

/**
 * The whole summary state (every table, every reporting zone of every project) after random
 * batches equals a recomputation from the raw events: late arrivals (before a user's first
 * event, between two stored days), duplicate ids, random batch splits, concurrent batches,
 * two projects with overlapping event and user ids and different zones, ids repeated
 * across ingest families.
 */
let database: TestDatabase;

// Odd offsets and daylight-saving changes inside the window (March-April 2025): New York
// (9 Mar), Kyiv (30 Mar), Lord Howe (30-minute shift, 6 Apr), Chatham (+13:45 -> +12:45, 6 Apr).
const ZONES = [
  'Europe/Kyiv',
  'America/New_York',
  'Asia/Kathmandu',
  'Pacific/Chatham',
  'Australia/Lord_Howe',
];
const WINDOW_START = Date.UTC(2025, 2, 1) / 1000;
const WINDOW_END = Date.UTC(2025, 3, 10) / 1000;
const ID_POOL = Array.from(
  { length: 80 },
  (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
);

/** A second project (id 2 in a fresh database) with other zones, Santiago's DST included. */
const SECOND = 2;

beforeAll(async () => {
  database = await createTestDatabase();
  await addReportZones(database.pool, ZONES);
  expect(
    await createProjectRow(database.pool, 'second', ['America/Santiago', 'Asia/Kathmandu']),
  ).toBe(SECOND);
});
afterAll(async () => {
  await database.close();
});

// Instants either anywhere in the window or within a second of a local midnight of one zone.
const arbInstant = fc.oneof(
  fc.noBias(fc.integer({ min: WINDOW_START, max: WINDOW_END })),
  fc
    .record({
      day: fc.integer({ min: 0, max: 39 }),
      quarter: fc.integer({ min: 0, max: 95 }),
      jitter: fc.constantFrom(-1, 0, 1),
    })
    .map(({ day, quarter, jitter }) => WINDOW_START + day * 86_400 + quarter * 900 + jitter),
);

const arbEvent = fc.record({
  project_id: fc.constantFrom(1, SECOND),
  source: fc.constantFrom('events' as const, 'segment' as const, 'posthog' as const),
  event_id: fc.constantFrom(...ID_POOL),
  user_id: fc.constantFrom('u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6'),
  event_type: fc.constantFrom('view', 'login', 'Login', 'Ωmega'),
  occurred_at: arbInstant.map((s) => new Date(s * 1000).toISOString()),
  properties: fc.constant('{}'),
});

function split<T>(items: T[], sizes: number[]): T[][] {
  const out: T[][] = [];
  for (let i = 0, k = 0; i < items.length; k++) {
    const size = sizes[k % sizes.length] ?? 1;
    out.push(items.slice(i, i + size));
    i += size;
  }
  return out;
}

describe('summary tables equal a recomputation from raw events', () => {
  it('after random sequential batches', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbEvent, { minLength: 1, maxLength: 100 }),
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 6 }),
        async (events, sizes) => {
          await emptyTables(database.pool);
          for (const batch of split(events, sizes)) await writeEvents(database.db, batch);
          expect(await summarySnapshot(database.pool)).toEqual(
            await expectedSummaries(database.pool),
          );
        },
      ),
      { numRuns: 40 },
    );
  }, 240_000);

  it('after concurrent batches with overlapping ids', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbEvent, { minLength: 10, maxLength: 120 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 2, maxLength: 6 }),
        async (events, sizes) => {
          await emptyTables(database.pool);
          await Promise.all(split(events, sizes).map((b) => writeEvents(database.db, b)));
          expect(await summarySnapshot(database.pool)).toEqual(
            await expectedSummaries(database.pool),
          );
        },
      ),
      { numRuns: 15 },
    );
  }, 240_000);

  it('under many concurrent writers whose batches share new and known users in any order, without deadlock', async () => {
    await emptyTables(database.pool);
    // Rounds of 6 concurrent batches of 150 events each over 120 users, half of them
    // first seen in that round: every batch inserts users others insert too, locks users
    // others lock, and writes the same summary rows, with events in random order.
    const rng = fc.sample(fc.integer({ min: 0, max: 1_000_000 }), {
      numRuns: 6 * 150 * 4 * 3,
      seed: 11,
    });
    let r = 0;
    const next = (n: number) => (rng[r++ % rng.length] as number) % n;
    let id = 0;
    for (let round = 0; round < 4; round++) {
      const batches = Array.from({ length: 6 }, () =>
        Array.from({ length: 150 }, () => ({
          project_id: next(3) === 0 ? SECOND : 1,
          source: 'events' as const,
          event_id: `10000000-0000-4000-8000-${String(id++).padStart(12, '0')}`,
          user_id: `w${next(60) + (next(2) === 0 ? 0 : 60 + round * 60)}`,
          event_type: ['view', 'login', 'Ωmega'][next(3)] as string,
          occurred_at: new Date(
            (WINDOW_START + next(WINDOW_END - WINDOW_START)) * 1000,
          ).toISOString(),
          properties: '{}',
        })),
      );
      await Promise.all(batches.map((b) => writeEvents(database.db, b)));
    }
    expect(await summarySnapshot(database.pool)).toEqual(await expectedSummaries(database.pool));
  }, 240_000);

  it('rebuild_summaries() builds the same state from the events alone (bulk loads, restores)', async () => {
    await emptyTables(database.pool);
    const events = fc.sample(arbEvent, { numRuns: 150, seed: 7 });
    for (const batch of split(events, [17, 5, 30])) await writeEvents(database.db, batch);
    const live = await summarySnapshot(database.pool);
    await database.pool.query('SELECT analytics.rebuild_summaries()');
    expect(await summarySnapshot(database.pool)).toEqual(live);
    expect(live).toEqual(await expectedSummaries(database.pool));
  });
});
