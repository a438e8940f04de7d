import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKysely, createPool } from '../../src/db/pool.js';
import { GroupCommitter } from '../../src/ingest/group-commit.js';
import { type EventToStore, storeUniqueEvents } from '../../src/ingest/write-events.js';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import {
  createProjectRow,
  emptyTables,
  expectedSummaries,
  summarySnapshot,
} from '../helpers/summaries.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.close();
});
afterEach(async () => {
  await database.pool.query('DROP TRIGGER IF EXISTS poison ON events');
  await emptyTables(database.pool);
});

const ID_POOL = Array.from({ length: 40 }, () => randomUUID());

function validEvent(id: string, user: string, tag: number): EventToStore {
  return {
    project_id: 1,
    source: 'events',
    event_id: id,
    occurred_at: new Date(Date.UTC(2025, 9, 1 + (tag % 5), tag % 24)).toISOString(),
    user_id: user,
    event_type: `t${tag % 3}`,
    // Which request's copy of an id was stored is visible in the row.
    properties: JSON.stringify({ request: tag }),
  };
}

describe('group commit', () => {
  it('merges concurrent requests into few transactions', async () => {
    let transactions = 0;
    const committer = new GroupCommitter(
      async (events) => {
        transactions++;
        return storeUniqueEvents(database.db, events);
      },
      { maxEvents: 5000, maxWaitMs: 0, concurrency: 2 },
    );
    const requests = Array.from({ length: 60 }, (_, i) => [validEvent(randomUUID(), `u${i}`, i)]);
    const results = await Promise.all(requests.map((events) => committer.write(events)));
    expect(results.every((r) => r.accepted === 1 && r.skipped === 0)).toBe(true);
    expect(transactions).toBeLessThan(10);
    const { rows } = await database.pool.query('SELECT count(*)::int AS n FROM events');
    expect(rows[0].n).toBe(60);
  });

  it('respects the events-per-transaction bound', async () => {
    const sizes: number[] = [];
    const committer = new GroupCommitter(
      async (events) => {
        sizes.push(events.length);
        return storeUniqueEvents(database.db, events);
      },
      { maxEvents: 10, maxWaitMs: 0, concurrency: 1 },
    );
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        committer.write([validEvent(randomUUID(), 'u', i), validEvent(randomUUID(), 'u', i)]),
      ),
    );
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(24);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(10);
  });

  it('gives each request its own exact counts, as if written one after another (ids overlap across projects and families)', async () => {
    const second = await createProjectRow(database.pool, 'second', ['Asia/Kathmandu']);
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            ids: fc.array(fc.constantFrom(...ID_POOL), { minLength: 1, maxLength: 8 }),
            project: fc.constantFrom(1, second),
            source: fc.constantFrom('events' as const, 'segment' as const),
          }),
          { minLength: 2, maxLength: 25 },
        ),
        fc.integer({ min: 1, max: 3 }),
        async (requestSpecs, concurrency) => {
          const requestIds = requestSpecs.map((r) => r.ids);
          await emptyTables(database.pool);
          const committer = new GroupCommitter((events) => storeUniqueEvents(database.db, events), {
            maxEvents: 30,
            maxWaitMs: 0,
            concurrency,
          });
          const requests = requestSpecs.map(({ ids, project, source }, r) =>
            ids.map((id) => ({
              ...validEvent(id, `u${r % 4}`, r),
              project_id: project,
              source,
            })),
          );
          const results = await Promise.all(requests.map((events) => committer.write(events)));

          // Oracle: the stored copy of each id names the request that won it.
          const { rows } = await database.pool.query<{ request: number }>(
            `SELECT (properties->>'request')::int AS request FROM events`,
          );
          const identities = requestSpecs.flatMap((r) =>
            r.ids.map((id) => `${r.project}/${r.source}/${id}`),
          );
          expect(rows.length).toBe(new Set(identities).size);
          results.forEach((result, r) => {
            const won = rows.filter((row) => row.request === r).length;
            expect(result).toEqual({ accepted: won, skipped: (requestIds[r] ?? []).length - won });
          });
          expect(await summarySnapshot(database.pool)).toEqual(
            await expectedSummaries(database.pool),
          );
        },
      ),
      { numRuns: 30 },
    );
  }, 120_000);

  it("does not fail a request's neighbours when it fails", async () => {
    await database.pool.query(`
      CREATE OR REPLACE FUNCTION poison_check() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.user_id = 'poison' THEN RAISE EXCEPTION 'poisoned event'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER poison BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION poison_check();`);
    let transactions = 0;
    const committer = new GroupCommitter(
      async (events) => {
        transactions++;
        return storeUniqueEvents(database.db, events);
      },
      { maxEvents: 5000, maxWaitMs: 5, concurrency: 1 },
    );
    const good = Array.from({ length: 8 }, (_, i) => [validEvent(randomUUID(), `u${i}`, i)]);
    const outcomes = await Promise.allSettled([
      ...good.slice(0, 4).map((events) => committer.write(events)),
      committer.write([validEvent(randomUUID(), 'poison', 99)]),
      ...good.slice(4).map((events) => committer.write(events)),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    // One merged attempt, then each request on its own.
    expect(transactions).toBe(1 + 9);
    const { rows } = await database.pool.query('SELECT count(*)::int AS n FROM events');
    expect(rows[0].n).toBe(8);
  });

  it('fails exactly the requests of a transaction when the database is unavailable', async () => {
    const target = new URL(database.url);
    const proxy = new TcpProxy(target.hostname, Number(target.port));
    await proxy.start();
    const proxied = new URL(database.url);
    proxied.host = `127.0.0.1:${proxy.port}`;
    const pool = createPool(proxied.toString(), { max: 2, connectionTimeoutMillis: 1000 });
    const db = createKysely(pool);
    try {
      const committer = new GroupCommitter((events) => storeUniqueEvents(db, events), {
        maxEvents: 5000,
        maxWaitMs: 0,
        concurrency: 1,
      });
      await committer.write([validEvent(randomUUID(), 'u', 1)]); // connected
      await proxy.stop();
      const outcomes = await Promise.allSettled(
        Array.from({ length: 5 }, (_, i) => committer.write([validEvent(randomUUID(), 'u', i)])),
      );
      expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
      await proxy.start();
      expect(await committer.write([validEvent(randomUUID(), 'u', 7)])).toEqual({
        accepted: 1,
        skipped: 0,
      });
    } finally {
      await db.destroy();
      await proxy.stop();
    }
  });

  it('answers a request over HTTP only after its events are committed and visible', async () => {
    const { app } = await buildTestApp(database, { groupCommitMaxWaitMs: 2 });
    try {
      const responses = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          app
            .inject({
              method: 'POST',
              url: '/events',
              payload: [
                {
                  event_id: randomUUID(),
                  occurred_at: '2025-10-19T10:00:00Z',
                  user_id: `user-${i}`,
                  event_type: 'login',
                },
              ],
            })
            .then(async (response) => {
              // Read right after this request's 202: its event must be counted already.
              const dau = await app.inject('/stats/dau?from=2025-10-19&to=2025-10-19');
              return { status: response.statusCode, users: dau.json()[0].unique_users as number };
            }),
        ),
      );
      expect(responses.every((r) => r.status === 202 && r.users >= 1)).toBe(true);
      const final = await app.inject('/stats/dau?from=2025-10-19&to=2025-10-19');
      expect(final.json()[0].unique_users).toBe(40);
    } finally {
      await app.close();
    }
  });
});
