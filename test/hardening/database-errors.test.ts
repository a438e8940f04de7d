import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKysely, createPool } from '../../src/db/pool.js';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { event } from '../helpers/events.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.close();
});

describe('5xx log lines never quote client data (item 10)', () => {
  it('logs the SQLSTATE and object names of a database error, not its message, detail or where', async () => {
    // A constraint the write path does not expect: PostgreSQL's error quotes the failing
    // row, properties included, in its `detail`.
    const secret = 'hunter2-secret-password';
    await database.pool.query(
      `ALTER TABLE events ADD CONSTRAINT no_passwords CHECK (NOT properties ? 'password')`,
    );
    const { app, logs } = await buildTestApp(database);
    try {
      const res = await app.inject({
        method: 'POST',
        url: '/events',
        payload: [event({ properties: { password: secret } })],
      });
      expect(res.statusCode).toBe(500);
      expect(res.json()).toEqual({ error: 'internal_error', message: 'internal server error' });
      const errorLine = logs.find((l) => l.level === 'error');
      expect(errorLine).toMatchObject({
        msg: expect.stringContaining('SQLSTATE 23514'),
        err: { type: 'DatabaseError', sqlstate: '23514', constraint: 'no_passwords' },
      });
      expect(JSON.stringify(logs)).not.toContain(secret);
    } finally {
      await app.close();
      await database.pool.query('ALTER TABLE events DROP CONSTRAINT no_passwords');
    }
  });
});

describe('statement timeout (item 9)', () => {
  it('a /stats query that runs past the statement timeout is a quick 503, not a hang', async () => {
    const pool = createPool(database.url, { statementTimeoutMs: 300 });
    const db = createKysely(pool);
    const { app, logs } = await buildTestApp({ db, pool });
    // Hold every table the queries could read, so any /stats query waits (lock waits count
    // towards statement_timeout).
    const locker = new pg.Client({ connectionString: database.url });
    await locker.connect();
    try {
      const { rows } = await locker.query<{ name: string }>(
        `SELECT quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = 'public'`,
      );
      await locker.query('BEGIN');
      await locker.query(
        `LOCK TABLE ${rows.map((r) => r.name).join(', ')} IN ACCESS EXCLUSIVE MODE`,
      );
      for (const url of [
        '/stats/dau?from=2025-10-01&to=2025-10-07',
        '/stats/top-events?from=2025-10-01&to=2025-10-07&tz=Europe/Kyiv',
        '/stats/retention?start_date=2025-10-01',
      ]) {
        const started = performance.now();
        const res = await app.inject(url);
        expect(performance.now() - started).toBeLessThan(5000);
        expect(res.statusCode, url).toBe(503);
        expect(res.json()).toEqual({
          error: 'query_timeout',
          message: expect.stringContaining('STATEMENT_TIMEOUT_MS'),
        });
      }
      expect(logs.find((l) => l.level === 'error')).toMatchObject({
        err: { sqlstate: '57014' },
      });
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
      await app.close();
      await db.destroy();
    }
  });

  it('the server pool has the timeout; a pool without the option (importer, migrations) has none', async () => {
    const limited = createPool(database.url, { statementTimeoutMs: 1234 });
    const unlimited = createPool(database.url);
    try {
      expect((await limited.query('SHOW statement_timeout')).rows[0].statement_timeout).toBe(
        '1234ms',
      );
      expect((await unlimited.query('SHOW statement_timeout')).rows[0].statement_timeout).toBe('0');
    } finally {
      await limited.end();
      await unlimited.end();
    }
  });
});

describe('an idle pool connection that drops (item 16, server part)', () => {
  it('does not take the process down; the next query opens a new connection', async () => {
    const target = new URL(database.url);
    const proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
    await proxy.start();
    const url = new URL(database.url);
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    const idleErrors: Error[] = [];
    const pool = createPool(url.toString(), { onIdleError: (e) => idleErrors.push(e) });
    const db = createKysely(pool);
    const { app } = await buildTestApp({ db, pool });
    try {
      // Three idle connections in the pool.
      await Promise.all([1, 2, 3].map(() => pool.query('SELECT pg_sleep(0.05)')));
      expect(pool.idleCount).toBe(3);
      await proxy.stop(); // drops every open connection
      await proxy.start();
      await new Promise((r) => setTimeout(r, 200));
      expect(idleErrors.length).toBeGreaterThan(0);
      // Still alive (an unhandled 'error' event would have ended the test process) and
      // serving.
      expect((await app.inject('/healthz')).statusCode).toBe(200);
      const res = await app.inject({ method: 'POST', url: '/events', payload: [event()] });
      expect(res.statusCode).toBe(202);
    } finally {
      await app.close();
      await db.destroy();
      await proxy.stop();
    }
  });
});
