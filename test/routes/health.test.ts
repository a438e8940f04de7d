import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKysely, createPool } from '../../src/db/pool.js';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { event } from '../helpers/events.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

let database: TestDatabase;
let proxy: TcpProxy;

beforeAll(async () => {
  database = await createTestDatabase();
  const target = new URL(database.url);
  proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
  await proxy.start();
});
afterAll(async () => {
  await proxy.stop();
  await database.close();
});

/** An app whose every connection goes through the proxy. */
async function appBehindProxy(connectionTimeoutMillis = 1000) {
  const url = new URL(database.url);
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  const pool = createPool(url.toString(), { connectionTimeoutMillis });
  const db = createKysely(pool);
  const { app } = await buildTestApp({ db, pool });
  return {
    app,
    close: async () => {
      await app.close();
      await db.destroy();
    },
  };
}

describe('GET /healthz', () => {
  it('answers 200 when the database answers', async () => {
    const { app } = await buildTestApp(database);
    const res = await app.inject('/healthz');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok', db: 'ok' });
    await app.close();
  });

  it('answers 503 when the database is down, and recovers by itself when it returns', async () => {
    const { app, close } = await appBehindProxy();
    try {
      expect((await app.inject('/healthz')).statusCode).toBe(200);

      await proxy.stop();
      const down = await app.inject('/healthz');
      expect(down.statusCode).toBe(503);
      expect(down.json()).toEqual({ status: 'error', db: 'unavailable' });

      // Ingestion answers 503 too, not a hang and not a 2xx.
      const ingest = await app.inject({ method: 'POST', url: '/events', payload: [event()] });
      expect(ingest.statusCode).toBe(503);
      expect(ingest.json()).toEqual({
        error: 'service_unavailable',
        message: 'the database is unavailable; retry later',
      });

      await proxy.start();
      const up = await app.inject('/healthz');
      expect(up.statusCode).toBe(200);
      expect(
        (await app.inject({ method: 'POST', url: '/events', payload: [event()] })).statusCode,
      ).toBe(202);
    } finally {
      proxy.forward();
      await close();
    }
  });

  it('answers 503 within about 2 s when the database accepts connections but never answers', async () => {
    // The pool would wait 10 s for a connection: the answer must come from /healthz's own 2 s limit.
    const { app, close } = await appBehindProxy(10_000);
    try {
      proxy.blackhole();
      const started = Date.now();
      const res = await app.inject('/healthz');
      const elapsed = Date.now() - started;
      expect(res.statusCode).toBe(503);
      // Not a speed target: the point is that it answers rather than hangs for the 10 s.
      expect(elapsed).toBeGreaterThanOrEqual(1900);
      expect(elapsed).toBeLessThan(5000);
    } finally {
      proxy.forward();
      await close();
    }
  });
});
