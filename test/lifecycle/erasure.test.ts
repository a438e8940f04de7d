import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeEvents } from '../../src/ingest/write-events.js';
import { maintainOnce } from '../../src/lifecycle/maintenance.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import {
  createProjectRow,
  emptyTables,
  expectedSummaries,
  summarySnapshot,
} from '../helpers/summaries.js';

/**
 * Erasure: after deleting users, every summary equals a recomputation from the raw events
 * that remain (as if they had never sent anything), under concurrent writers of the same
 * users, and for days whose raw events already expired.
 */
let database: TestDatabase;
let second: number;
const ZONES = ['Europe/Kyiv', 'Asia/Kathmandu', 'America/Santiago'];

beforeAll(async () => {
  database = await createTestDatabase();
  await database.pool.query(`SELECT analytics.set_project_zones(1, $1::text[])`, [ZONES]);
  second = await createProjectRow(database.pool, 'second', ['Pacific/Chatham']);
});
afterAll(async () => {
  await database.close();
});

async function erase(projectId: number, users: string[]) {
  const { rows } = await sql<{ user_id: string; deleted_events: number }>`
    SELECT user_id, deleted_events::int FROM analytics.erase_users(${projectId}::int, ${users}::text[])`.execute(
    database.db,
  );
  return rows;
}

const arbEvent = fc.record({
  id: fc.integer({ min: 0, max: 199 }),
  user: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
  type: fc.constantFrom('view', 'login', 'buy'),
  at: fc.noBias(fc.integer({ min: Date.UTC(2025, 2, 1), max: Date.UTC(2025, 4, 1) })),
  project: fc.constantFrom(1, 2),
});
type Generated = Omit<typeof arbEvent extends fc.Arbitrary<infer T> ? T : never, 'project'> & {
  project: number;
};
const toEvent = (e: Generated) => ({
  project_id: e.project,
  source: 'events' as const,
  event_id: `00000000-0000-4000-8000-${String(e.id).padStart(12, '0')}`,
  occurred_at: new Date(e.at).toISOString(),
  user_id: e.user,
  event_type: e.type,
  properties: '{}',
});

describe('erasing users', () => {
  it('leaves every summary equal to a recomputation from the remaining raw events, under concurrent writes of the same users', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbEvent, { minLength: 5, maxLength: 80 }),
        fc.array(arbEvent, { minLength: 1, maxLength: 40 }),
        fc.subarray(['a', 'b', 'c', 'd', 'e'], { minLength: 1 }),
        async (before, during, victims) => {
          await emptyTables(database.pool);
          await writeEvents(database.db, before.map(toEvent));
          // Writers and the erasure race; the same users appear on both sides.
          const [, erased] = await Promise.all([
            Promise.all([
              writeEvents(database.db, during.slice(0, 20).map(toEvent)),
              writeEvents(database.db, during.slice(20).map(toEvent)),
            ]),
            erase(1, victims),
          ]);
          expect(erased.map((r) => r.user_id)).toEqual(
            [...new Set(victims)].filter((v) => erased.some((r) => r.user_id === v)).sort(),
          );
          // Types only the erased users had leave the dictionary at the next maintenance.
          await maintainOnce(database.pool);
          expect(await summarySnapshot(database.pool)).toEqual(
            await expectedSummaries(database.pool),
          );
          // The other project's users of the same names are untouched.
          const { rows } = await database.pool.query(
            `SELECT count(*)::int AS n FROM events WHERE project_id = $1`,
            [second],
          );
          const mine = new Set(
            [...before, ...during].filter((e) => e.project === second).map((e) => e.id),
          );
          expect(rows[0].n).toBe(mine.size);
        },
      ),
      { numRuns: 25 },
    );
  }, 180_000);

  it('an event of an erased user sent afterwards makes a new user, first seen then', async () => {
    await emptyTables(database.pool);
    await writeEvents(database.db, [
      toEvent({ id: 1, user: 'a', type: 'view', at: Date.UTC(2025, 2, 3), project: 1 }),
    ]);
    expect(await erase(1, ['a', 'nobody'])).toEqual([{ user_id: 'a', deleted_events: 1 }]);
    await writeEvents(database.db, [
      toEvent({ id: 2, user: 'a', type: 'view', at: Date.UTC(2025, 2, 10), project: 1 }),
    ]);
    const { rows } = await database.pool.query(
      `SELECT first_seen_at FROM users WHERE project_id = 1 AND user_id = 'a'`,
    );
    expect(rows[0].first_seen_at.toISOString()).toBe(new Date(Date.UTC(2025, 2, 10)).toISOString());
    expect(await summarySnapshot(database.pool)).toEqual(await expectedSummaries(database.pool));
  });

  it('corrects the summaries of days whose raw events expired: the state equals a project that never had the user', async () => {
    await emptyTables(database.pool);
    // Each id once: with a repeated id, which copy is stored depends on who sent it first.
    const events = [
      ...new Map(fc.sample(arbEvent, { numRuns: 300, seed: 5 }).map((e) => [e.id, e])).values(),
    ];
    const withUser = await createProjectRow(database.pool, 'with-user', ZONES);
    const without = await createProjectRow(database.pool, 'without-user', ZONES);
    await writeEvents(
      database.db,
      events.map((e) => toEvent({ ...e, project: withUser })),
    );
    await writeEvents(
      database.db,
      events.filter((e) => e.user !== 'c').map((e) => toEvent({ ...e, project: without })),
    );
    // Both keep 40 days; "now" is 2025-05-01: March expires.
    await database.pool.query(
      `UPDATE projects SET raw_retention_days = 40 WHERE project_id IN ($1, $2)`,
      [withUser, without],
    );
    const report = await maintainOnce(database.pool, Date.UTC(2025, 4, 1));
    expect(report?.expiredEvents).toBeGreaterThan(0);
    const erased = await erase(withUser, ['c']);
    expect(erased).toHaveLength(1);
    const of = (slug: string, snapshot: Record<string, string[]>) =>
      Object.fromEntries(
        Object.entries(snapshot).map(([table, rows]) => [
          table,
          rows.filter((r) => r.startsWith(`["${slug}"`)).map((r) => r.slice(slug.length + 4)),
        ]),
      );
    const snapshot = await summarySnapshot(database.pool);
    expect(of('with-user', snapshot)).toEqual(of('without-user', snapshot));
    expect(
      (
        await database.pool.query(
          `SELECT count(*)::int AS n FROM events WHERE project_id = $1 AND user_id = 'c'`,
          [withUser],
        )
      ).rows[0].n,
    ).toBe(0);
  });
});
