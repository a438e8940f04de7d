import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeKey } from '../../src/auth/keys.js';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import {
  bearer,
  createKeys,
  INGEST_ENDPOINTS,
  ids,
  newKey,
  post,
  recordingKysely,
  successStatus,
  withBodyKey,
} from '../helpers/ingest-requests.js';
import { startServerProcess } from '../helpers/server-process.js';

let database: TestDatabase;
let app: FastifyInstance;
let keys: Record<string, string>;
const KEY_CACHE_TTL_MS = 400;

beforeAll(async () => {
  database = await createTestDatabase();
  keys = await createKeys(database.db, {
    writer: 'write',
    reader: 'read',
    admin: 'all',
    gone: 'write',
  });
  await revokeKey(database.db, 1, { name: 'gone' });
  ({ app } = await buildTestApp(
    database,
    { auth: 'required' },
    { keyCacheTtlMs: KEY_CACHE_TTL_MS },
  ));
});
afterAll(async () => {
  await app?.close();
  await database?.close();
});

/** Amplitude's routes add `code`, the HTTP status, which its SDK reads instead of the status. */
const CODED = new Set(['/2/httpapi', '/batch']);

function expectError(
  res: { statusCode: number; json(): unknown },
  status: number,
  error: string,
  url = '',
) {
  expect(res.statusCode).toBe(status);
  const body = res.json() as Record<string, unknown>;
  expect(body).toMatchObject({ error, message: expect.any(String) });
  // missing_field makes Amplitude drop the batch instead of retrying it.
  if (CODED.has(url)) {
    expect(body).toEqual({ code: status, error, message: body.message, missing_field: 'api_key' });
  } else expect(body).toEqual({ error, message: body.message });
}

const basic = (key: string) => ({
  authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}`,
});
const STATS = [
  '/stats/dau?from=2025-10-19&to=2025-10-20',
  '/stats/top-events?from=2025-10-19&to=2025-10-20',
  '/stats/retention?start_date=2025-10-19',
];

describe('AUTH=required: ingest endpoints need a write key', () => {
  for (const endpoint of INGEST_ENDPOINTS) {
    describe(`POST ${endpoint.url}`, () => {
      const ok = successStatus(endpoint.family);
      const send = (headers: Record<string, string>, body = endpoint.body(ids(1))) =>
        post(app, endpoint.url, body, headers);

      it('refuses a request without a key (401) and stores nothing', async () => {
        const id = randomUUID();
        expectError(await send({}, endpoint.body([id])), 401, 'unauthorized', endpoint.url);
        const { rows } = await database.pool.query('SELECT 1 FROM events WHERE event_id = $1', [
          id,
        ]);
        expect(rows).toEqual([]);
      });

      it('refuses unknown and revoked keys (401), a read key (403)', async () => {
        expectError(await send(bearer('ea_not-a-key')), 401, 'unauthorized', endpoint.url);
        expectError(await send(bearer(keys.gone as string)), 401, 'unauthorized', endpoint.url);
        expectError(
          await send({ 'x-api-key': keys.gone as string }),
          401,
          'unauthorized',
          endpoint.url,
        );
        const forbidden = await send(bearer(keys.reader as string));
        expectError(forbidden, 403, 'forbidden', endpoint.url);
        expect(forbidden.json().message).toContain('"reader" has scope read');
      });

      it('takes a write or all key as Bearer, X-API-Key or HTTP Basic user name', async () => {
        for (const headers of [
          bearer(keys.writer as string),
          { authorization: `bearer   ${keys.writer}` },
          { 'x-api-key': keys.writer as string },
          basic(keys.writer as string),
          bearer(keys.admin as string),
          basic(keys.admin as string),
        ]) {
          const res = await send(headers);
          expect(res.statusCode, `${JSON.stringify(headers)}: ${res.body}`).toBe(ok);
        }
      });

      if (endpoint.family !== 'events') {
        it("takes the SDK's own key field in the body", async () => {
          const body = (key: string) => withBodyKey(endpoint.family, endpoint.body(ids(1)), key);
          expect((await send({}, body(keys.writer as string))).statusCode).toBe(ok);
          expect((await send({}, body(keys.admin as string))).statusCode).toBe(ok);
          expectError(await send({}, body(keys.reader as string)), 403, 'forbidden', endpoint.url);
          expectError(await send({}, body(keys.gone as string)), 401, 'unauthorized', endpoint.url);
          expectError(await send({}, body('wrong')), 401, 'unauthorized', endpoint.url);
        });
      }
    });
  }

  it('PostHog envelopes take `token` as well as `api_key`', async () => {
    const res = await post(app, '/batch/', {
      token: keys.writer,
      batch: [{ event: 'x', distinct_id: 'u', uuid: randomUUID() }],
    });
    expect(res.statusCode, res.body).toBe(200);
  });

  it('a key in a header wins: a bad header key is a 401 even with a good body key', async () => {
    const body = withBodyKey('segment', { batch: [] }, keys.writer as string);
    expectError(await post(app, '/v1/batch', body, bearer('wrong')), 401, 'unauthorized');
  });
});

describe('AUTH=required: /stats needs a read key', () => {
  it.each(STATS)('%s', async (url) => {
    const get = (headers: Record<string, string>) => app.inject({ method: 'GET', url, headers });
    expectError(await get({}), 401, 'unauthorized');
    expectError(await get(bearer('ea_unknown')), 401, 'unauthorized');
    expectError(await get(bearer(keys.gone as string)), 401, 'unauthorized');
    expectError(await get(bearer(keys.writer as string)), 403, 'forbidden');
    expectError(await get(basic(keys.writer as string)), 403, 'forbidden');
    for (const headers of [
      bearer(keys.reader as string),
      { 'x-api-key': keys.reader as string },
      bearer(keys.admin as string),
    ]) {
      expect((await get(headers)).statusCode).toBe(200);
    }
  });

  it('public routes stay public', async () => {
    for (const url of ['/healthz', '/docs/json', '/metrics']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
    }
    const docs = await app.inject({ method: 'GET', url: '/docs' });
    expect([200, 302]).toContain(docs.statusCode);
    // A route that does not exist is a 404, not a 401.
    expect((await app.inject({ method: 'GET', url: '/nope' })).statusCode).toBe(404);
  });
});

describe('key look-ups', () => {
  it('are cached: no query per request, unknown keys included; concurrent look-ups share one', async () => {
    // A TTL far longer than the test, so the count cannot depend on timing.
    const recording = recordingKysely(database.pool);
    const { app: cached } = await buildTestApp(
      { db: recording.db, pool: database.pool },
      { auth: 'required' },
      { keyCacheTtlMs: 60_000 },
    );
    try {
      const lookups = () =>
        recording.statements.filter((s) => /from api_keys\s+where key_hash/i.test(s)).length;
      const get = (key: string) =>
        cached.inject({ method: 'GET', url: STATS[0] as string, headers: bearer(key) });
      const concurrent = await Promise.all(
        Array.from({ length: 8 }, () => get(keys.admin as string)),
      );
      expect(concurrent.map((r) => r.statusCode)).toEqual(Array(8).fill(200));
      expect(lookups()).toBe(1);
      for (let i = 0; i < 5; i++) expect((await get(keys.admin as string)).statusCode).toBe(200);
      for (let i = 0; i < 5; i++) expect((await get('ea_unknown')).statusCode).toBe(401);
      expect(lookups()).toBe(2);
      for (let i = 0; i < 3; i++) {
        const res = await post(
          cached,
          '/v1/batch',
          withBodyKey('segment', { batch: [] }, keys.writer as string),
        );
        expect(res.statusCode).toBe(200);
      }
      expect(lookups()).toBe(3);
    } finally {
      await cached.close();
    }
  });

  it('a revoked key keeps working until it is revoked and stops within the cache TTL', async () => {
    const name = `revoke-me-${randomUUID().slice(0, 8)}`;
    const key = await newKey(database.db, name, 'write');
    const send = () => post(app, '/events', INGEST_ENDPOINTS[0]?.body(ids(1)), bearer(key));
    for (let i = 0; i < 3; i++) expect((await send()).statusCode).toBe(202);
    await new Promise((r) => setTimeout(r, KEY_CACHE_TTL_MS + 50));
    expect((await send()).statusCode).toBe(202); // still valid after a TTL: not revoked yet

    expect(await revokeKey(database.db, 1, { name })).toBe(true);
    const revokedAt = Date.now();
    let status = 202;
    while (status === 202) {
      const started = Date.now();
      status = (await send()).statusCode;
      if (status === 202) {
        // Only an answer cached before the revocation may still let it in, for one TTL.
        expect(started - revokedAt).toBeLessThan(KEY_CACHE_TTL_MS + 100);
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    expect(status).toBe(401);
  });
});

describe('last_used_at', () => {
  it('is written for the keys used (at the latest when the app closes), not for others', async () => {
    const separate = await createTestDatabase();
    try {
      const k = await createKeys(separate.db, { used: 'write', idle: 'read' });
      const { app: own } = await buildTestApp(separate, { auth: 'required' });
      const before = Date.now();
      const res = await post(
        own,
        '/events',
        INGEST_ENDPOINTS[0]?.body(ids(1)),
        bearer(k.used as string),
      );
      expect(res.statusCode).toBe(202);
      await own.close();
      const { rows } = await separate.pool.query(
        'SELECT name, last_used_at FROM api_keys ORDER BY name',
      );
      expect(rows[0]).toEqual({ name: 'idle', last_used_at: null });
      expect(rows[1].name).toBe('used');
      expect(rows[1].last_used_at.getTime()).toBeGreaterThanOrEqual(before - 1000);
      expect(rows[1].last_used_at.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
    } finally {
      await separate.close();
    }
  });
});

describe('AUTH=off', () => {
  it('everything is open; keys are ignored, even unknown ones', async () => {
    const { app: open } = await buildTestApp(database, { auth: 'off' });
    try {
      for (const endpoint of INGEST_ENDPOINTS) {
        for (const headers of [{}, bearer('ea_unknown')]) {
          const res = await post(open, endpoint.url, endpoint.body(ids(1)), headers);
          expect(res.statusCode, `${endpoint.url}: ${res.body}`).toBe(
            successStatus(endpoint.family),
          );
        }
      }
      for (const url of STATS) {
        expect((await open.inject({ method: 'GET', url })).statusCode).toBe(200);
      }
    } finally {
      await open.close();
    }
  });
});

describe('the start-up warning', () => {
  async function startupLines(env: Record<string, string>): Promise<string[]> {
    const server = await startServerProcess(['--import', 'tsx', 'src/server.ts'], {
      DATABASE_URL: database.url,
      ...env,
    });
    // A request answered means start-up has finished (the warning follows the listening
    // line); then every line up to the shutdown.
    expect((await fetch(`${server.baseUrl}/healthz`)).status).toBe(200);
    const drained = new Promise((resolve) => server.proc.stdout?.on('close', resolve));
    server.proc.kill('SIGTERM');
    await Promise.all([server.exited, drained]);
    return server.lines;
  }
  const warned = (lines: string[]) =>
    lines.filter((l) => l.includes('AUTH=off and HOST=')).map((l) => JSON.parse(l));

  it('is logged when AUTH=off and HOST is not a loopback address, not otherwise', async () => {
    const open = warned(await startupLines({ AUTH: 'off', HOST: '0.0.0.0' }));
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({ level: 'warn' });
    expect(open[0].msg).toContain('set AUTH=required');
    expect(warned(await startupLines({ AUTH: 'off', HOST: '127.0.0.1' }))).toEqual([]);
  }, 90_000);
});
