import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createKeys, INGEST_ENDPOINTS, ids, successStatus } from '../helpers/ingest-requests.js';

/**
 * CORS as a browser meets it: real HTTP on a real port (fetch sends Origin as given),
 * AUTH=required, and one dashboard origin allowed to read /stats.
 */
let database: TestDatabase;
let app: FastifyInstance;
let base: string;
let keys: Record<string, string>;
const SHOP = 'https://shop.example.com';
const DASHBOARD = 'https://dashboard.example.com';
const REQUESTED_HEADERS = 'authorization,content-type,content-encoding,x-api-key';

beforeAll(async () => {
  database = await createTestDatabase();
  keys = await createKeys(database.db, { writer: 'write', reader: 'read' });
  ({ app } = await buildTestApp(database, { auth: 'required', corsOrigins: [DASHBOARD] }));
  base = await app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await app?.close();
  await database?.close();
});

function preflight(path: string, origin: string, method = 'POST') {
  return fetch(`${base}${path}`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': method,
      'access-control-request-headers': REQUESTED_HEADERS,
    },
  });
}

function allowedHeaders(res: Response): string[] {
  return (res.headers.get('access-control-allow-headers') ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase());
}

describe('CORS on ingest endpoints: any origin', () => {
  it.each(INGEST_ENDPOINTS.map((e) => e.url))(
    'OPTIONS %s is answered without a key, echoing the origin',
    async (url) => {
      for (const origin of [SHOP, 'http://localhost:5173', 'null']) {
        const res = await preflight(url, origin);
        expect(res.status, `${url} from ${origin}`).toBe(204);
        expect(res.headers.get('access-control-allow-origin')).toBe(origin);
        expect(res.headers.get('access-control-allow-methods')).toContain('POST');
        expect(allowedHeaders(res)).toEqual(
          expect.arrayContaining([
            'authorization',
            'content-type',
            'content-encoding',
            'x-api-key',
          ]),
        );
        expect(res.headers.get('vary')?.toLowerCase()).toContain('origin');
        expect(Number(res.headers.get('access-control-max-age'))).toBeGreaterThan(0);
      }
    },
  );

  it('a preflight with a query string (posthog-js) is answered too', async () => {
    const res = await preflight('/e/?compression=gzip-js&ver=1.200.0', SHOP);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(SHOP);
  });

  it('the POST itself carries the CORS headers, on success and on a 401', async () => {
    for (const endpoint of INGEST_ENDPOINTS) {
      const res = await fetch(`${base}${endpoint.url}`, {
        method: 'POST',
        headers: {
          origin: SHOP,
          'content-type': 'application/json',
          authorization: `Bearer ${keys.writer}`,
        },
        body: JSON.stringify(endpoint.body(ids(1))),
      });
      expect(res.status, endpoint.url).toBe(successStatus(endpoint.family));
      expect(res.headers.get('access-control-allow-origin')).toBe(SHOP);
      expect(res.headers.get('access-control-expose-headers')?.toLowerCase()).toContain(
        'retry-after',
      );
    }
    // The browser SDK must be able to read why it was refused.
    const refused = await fetch(`${base}/events`, {
      method: 'POST',
      headers: { origin: SHOP, 'content-type': 'application/json' },
      body: '[]',
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('access-control-allow-origin')).toBe(SHOP);
  });
});

describe('CORS on a 429', () => {
  it('carries the allow-origin header and exposes Retry-After, so a browser SDK can wait', async () => {
    const { app: limited } = await buildTestApp(database, {
      maxBatchEvents: 1,
      rateLimitEventsPerSecond: 1,
      rateLimitBurst: 1,
    });
    try {
      const send = () =>
        limited.inject({
          method: 'POST',
          url: '/v1/batch',
          headers: { origin: SHOP, 'content-type': 'application/json' },
          payload: JSON.stringify(INGEST_ENDPOINTS[1]?.body(ids(1))),
        });
      expect((await send()).statusCode).toBe(200);
      const res = await send();
      expect(res.statusCode).toBe(429);
      expect(res.headers['access-control-allow-origin']).toBe(SHOP);
      expect(res.headers['retry-after']).toBe('1');
      expect(String(res.headers['access-control-expose-headers']).toLowerCase()).toContain(
        'retry-after',
      );
    } finally {
      await limited.close();
    }
  });
});

describe('CORS on /stats: only the origins in CORS_ORIGINS', () => {
  const STATS = '/stats/dau?from=2025-10-19&to=2025-10-20';

  it('answers the preflight and the GET for an allowed origin', async () => {
    const pre = await preflight('/stats/dau', DASHBOARD, 'GET');
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(DASHBOARD);
    expect(allowedHeaders(pre)).toContain('authorization');
    const res = await fetch(`${base}${STATS}`, {
      headers: { origin: DASHBOARD, authorization: `Bearer ${keys.reader}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(DASHBOARD);
  });

  it('gives any other origin no allow-origin header', async () => {
    for (const origin of [SHOP, `${DASHBOARD}.evil.com`, 'http://dashboard.example.com']) {
      const pre = await preflight('/stats/dau', origin, 'GET');
      expect(pre.headers.get('access-control-allow-origin'), origin).toBeNull();
      const res = await fetch(`${base}${STATS}`, {
        headers: { origin, authorization: `Bearer ${keys.reader}` },
      });
      expect(res.status).toBe(200); // CORS protects browsers' readers, not the data
      expect(res.headers.get('access-control-allow-origin'), origin).toBeNull();
    }
  });

  it('with CORS_ORIGINS empty, no origin may read /stats; ingest stays open', async () => {
    const { app: closed } = await buildTestApp(database, { auth: 'off', corsOrigins: [] });
    try {
      const stats = await closed.inject({
        method: 'OPTIONS',
        url: '/stats/top-events',
        headers: { origin: DASHBOARD, 'access-control-request-method': 'GET' },
      });
      expect(stats.headers['access-control-allow-origin']).toBeUndefined();
      const get = await closed.inject({
        method: 'GET',
        url: '/stats/top-events?from=2025-10-19&to=2025-10-19',
        headers: { origin: DASHBOARD },
      });
      expect(get.headers['access-control-allow-origin']).toBeUndefined();
      const ingest = await closed.inject({
        method: 'OPTIONS',
        url: '/v1/batch',
        headers: { origin: SHOP, 'access-control-request-method': 'POST' },
      });
      expect(ingest.headers['access-control-allow-origin']).toBe(SHOP);
    } finally {
      await closed.close();
    }
  });
});

describe('CORS elsewhere', () => {
  it('operational routes are not readable cross-origin', async () => {
    for (const path of ['/healthz', '/metrics', '/docs/json']) {
      const res = await fetch(`${base}${path}`, { headers: { origin: SHOP } });
      expect(res.status, path).toBe(200);
      expect(res.headers.get('access-control-allow-origin'), path).toBeNull();
    }
  });
});
