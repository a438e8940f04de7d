import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maintainOnce } from '../../src/lifecycle/maintenance.js';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { event } from '../helpers/events.js';
import { bearer, newKey } from '../helpers/ingest-requests.js';
import { runProcess } from '../helpers/server-process.js';
import {
  createProjectRow,
  emptyTables,
  expectedSummaries,
  summarySnapshot,
} from '../helpers/summaries.js';

/**
 * DELETE /users/{user_id} and `npm run users -- delete` end to end, with AUTH=required:
 * scopes, the project from the key, 404s that change nothing, concurrent writers and
 * deleters of the same user, and a user sent again after erasure. The SQL function's own
 * properties (every zone, expired days) are in erasure.test.ts.
 */
let database: TestDatabase;
let app: FastifyInstance;
const keys: Record<string, string> = {};
let otherProject: number;

beforeAll(async () => {
  database = await createTestDatabase();
  await database.pool.query(`SELECT analytics.set_project_zones(1, $1::text[])`, [
    ['Europe/Kyiv', 'America/Santiago'],
  ]);
  otherProject = await createProjectRow(database.pool, 'other', ['Asia/Kathmandu']);
  for (const scope of ['write', 'read', 'all', 'admin'] as const) {
    keys[scope] = await newKey(database.db, scope, scope);
  }
  keys.otherAdmin = await newKey(database.db, 'other-admin', 'admin', otherProject);
  keys.otherWriter = await newKey(database.db, 'other-writer', 'write', otherProject);
  ({ app } = await buildTestApp(database, { auth: 'required' }));
});
afterAll(async () => {
  await app?.close();
  await database?.close();
});

async function send(key: string, events: ReturnType<typeof event>[]) {
  const res = await app.inject({
    method: 'POST',
    url: '/events',
    headers: bearer(key),
    payload: events,
  });
  expect(res.statusCode, res.body).toBe(202);
}

const erase = (userId: string, key?: string) =>
  app.inject({
    method: 'DELETE',
    url: `/users/${encodeURIComponent(userId)}`,
    headers: key === undefined ? {} : bearer(key),
  });

/**
 * Every summary equals a recomputation from the raw events, once maintenance has pruned the
 * event types that only erased users had (it does so on each pass).
 */
async function expectExactSummaries() {
  await maintainOnce(database.pool);
  expect(await summarySnapshot(database.pool)).toEqual(await expectedSummaries(database.pool));
}

async function count(text: string, values: unknown[] = []): Promise<number> {
  const { rows } = await database.pool.query(text, values);
  return Number(rows[0].n);
}

describe('DELETE /users/{user_id}', () => {
  it('needs an admin or all key; read and write keys are 403, no key 401, before any work', async () => {
    await emptyTables(database.pool);
    await send(keys.write as string, [event({ user_id: 'v' }), event({ user_id: 'w' })]);
    expect((await erase('v')).statusCode).toBe(401);
    for (const scope of ['read', 'write']) {
      const res = await erase('v', keys[scope]);
      expect({ scope, status: res.statusCode, error: res.json().error }).toEqual({
        scope,
        status: 403,
        error: 'forbidden',
      });
    }
    expect(await count(`SELECT count(*) AS n FROM events WHERE user_id = 'v'`)).toBe(1);
    for (const [scope, user] of [
      ['admin', 'v'],
      ['all', 'w'],
    ] as const) {
      const res = await erase(user, keys[scope]);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({ user_id: user, deleted_events: 1 });
    }
    expect(await count('SELECT count(*) AS n FROM events')).toBe(0);
    await expectExactSummaries();
  });

  it('answers 404 not_found for a user the project does not have, and for another project’s user; nothing changes', async () => {
    await emptyTables(database.pool);
    await send(keys.write as string, [
      event({ user_id: 'mine', event_type: 'view' }),
      event({ user_id: 'mine', event_type: 'buy' }),
    ]);
    await send(keys.otherWriter as string, [event({ user_id: 'theirs' })]);
    const before = await summarySnapshot(database.pool);
    const unknown = await erase('nobody', keys.admin);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: 'not_found' });
    // Another project's key reaches its own project only: "mine" is not there.
    const across = await erase('mine', keys.otherAdmin);
    expect(across.statusCode).toBe(404);
    expect(across.json().error).toBe('not_found');
    // Naming the other project does not help either.
    const named = await app.inject({
      method: 'DELETE',
      url: '/users/mine',
      headers: { ...bearer(keys.otherAdmin as string), 'x-project': 'default' },
    });
    expect(named.statusCode).toBe(404);
    expect(await count('SELECT count(*) AS n FROM events')).toBe(3);
    expect(await summarySnapshot(database.pool)).toEqual(before);
    // Its own user it erases, leaving default's alone.
    expect((await erase('theirs', keys.otherAdmin)).json()).toEqual({
      user_id: 'theirs',
      deleted_events: 1,
    });
    expect(await count('SELECT count(*) AS n FROM events WHERE project_id = 1')).toBe(2);
  });

  it('takes any user id events may carry, URL-encoded (slashes, spaces, non-ASCII); a too long one is 422', async () => {
    await emptyTables(database.pool);
    const odd = ['a/b', 'with space', 'ünïcødé ✓', 'x?y#z', '%41'];
    await send(
      keys.write as string,
      odd.map((user_id) => event({ user_id })),
    );
    for (const user of odd) {
      const res = await erase(user, keys.admin);
      expect({ user, status: res.statusCode, body: res.json() }).toEqual({
        user,
        status: 200,
        body: { user_id: user, deleted_events: 1 },
      });
    }
    expect((await erase('x'.repeat(257), keys.admin)).statusCode).toBe(422);
  });

  it('concurrent writers and deleters of the same users leave every summary equal to a recomputation from the raw events', async () => {
    await emptyTables(database.pool);
    const users = ['p', 'q', 'r'];
    const batch = (n: number, day: number) =>
      Array.from({ length: n }, (_, i) =>
        event({
          user_id: users[i % users.length] as string,
          event_type: ['view', 'buy', 'login'][(i + day) % 3] as string,
          occurred_at: new Date(Date.UTC(2025, 5, 1 + day, (i * 7) % 24)).toISOString(),
        }),
      );
    for (let round = 0; round < 4; round++) {
      await send(keys.write as string, batch(30, round * 3));
      const results = await Promise.all([
        send(keys.write as string, batch(40, round * 3 + 1)),
        erase('p', keys.admin),
        send(keys.write as string, batch(40, round * 3 + 2)),
        erase('p', keys.all),
        erase('q', keys.admin),
        send(keys.write as string, batch(20, round * 3 + 5)),
      ]);
      for (const res of results) if (res) expect([200, 404]).toContain(res.statusCode);
      await expectExactSummaries();
    }
    // The other project was never touched.
    expect(await count('SELECT count(*) AS n FROM events WHERE project_id <> 1')).toBe(0);
  }, 60_000);

  it('an event of the erased user sent afterwards makes a new user, first seen then', async () => {
    await emptyTables(database.pool);
    await send(keys.write as string, [
      event({ user_id: 'again', occurred_at: '2025-03-01T10:00:00Z' }),
      event({ user_id: 'again', occurred_at: '2025-03-05T10:00:00Z' }),
    ]);
    expect((await erase('again', keys.admin)).json()).toEqual({
      user_id: 'again',
      deleted_events: 2,
    });
    // The same event ids may come back too: their dedup rows went with the events.
    await send(keys.write as string, [
      event({ user_id: 'again', occurred_at: '2025-03-20T08:00:00Z' }),
    ]);
    const { rows } = await database.pool.query(
      `SELECT first_seen_at FROM users WHERE project_id = 1 AND user_id = 'again'`,
    );
    expect(rows[0].first_seen_at.toISOString()).toBe('2025-03-20T08:00:00.000Z');
    const cohorts = await app.inject({
      url: '/stats/retention?start_date=2025-03-20&days=3&tz=UTC',
      headers: bearer(keys.read as string),
    });
    expect(cohorts.statusCode, cohorts.body).toBe(200);
    expect(cohorts.json().cohort_size).toBe(1);
    await expectExactSummaries();
  });
});

describe('npm run users -- delete', () => {
  const users = (args: string[]) =>
    runProcess(['--import', 'tsx', 'src/cli/users.ts', ...args], { DATABASE_URL: database.url });

  it('erases ids given as arguments or in a file, reports unknown ids, and refuses usage mistakes with exit 2', async () => {
    await emptyTables(database.pool);
    await send(keys.write as string, [
      event({ user_id: 'c1' }),
      event({ user_id: 'c1', event_type: 'buy' }),
      event({ user_id: 'c2' }),
      event({ user_id: 'c3' }),
      event({ user_id: 'c 4' }),
    ]);
    await send(keys.otherWriter as string, [event({ user_id: 'c1' })]);
    const direct = await users(['delete', 'c1', 'ghost', '--project', 'default']);
    expect(direct.code, direct.stderr).toBe(0);
    expect(direct.stdout).toContain('erased "c1": 2 events');
    expect(direct.stdout).toContain('no user "ghost" in project default');
    expect(direct.stdout).toContain(
      'Erased 1 users (2 raw events) from project default; 1 ids not found',
    );
    // The other project's c1 stays.
    expect(await count(`SELECT count(*) AS n FROM events WHERE user_id = 'c1'`)).toBe(1);

    const dir = await mkdtemp(path.join(tmpdir(), 'erase-'));
    const file = path.join(dir, 'ids.txt');
    await writeFile(file, 'c2\r\n\n  c 4  \nc3\n');
    const fromFile = await users(['delete', '--file', file, '--project', 'default']);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(fromFile.stdout).toContain('Erased 3 users (3 raw events)');
    expect(await count('SELECT count(*) AS n FROM events WHERE project_id = 1')).toBe(0);
    await expectExactSummaries();

    for (const args of [
      ['delete', 'c1'],
      ['delete', 'c1', '--file', file, '--project', 'default'],
      ['delete', 'c1', '--project', 'no-such-project'],
    ]) {
      const res = await users(args);
      expect({ args, code: res.code }).toEqual({ args, code: 2 });
      expect(res.stderr).toMatch(/^users failed: /);
    }
  }, 60_000);
});
