import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

let database: TestDatabase;
let app: FastifyInstance;

beforeAll(async () => {
  database = await createTestDatabase();
  ({ app } = await buildTestApp(database));
});
afterAll(async () => {
  await app.close();
  await database.close();
});

function seriesCount(text: string): number {
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
}

describe('the method label of HTTP metrics (item 12)', () => {
  it('is one of the standard methods or "other", so odd methods cannot add series', async () => {
    const methods = ['PROPFIND', 'PURGE', 'MKCOL', 'LOCK', 'UNLOCK', 'COPY', 'MOVE', 'SEARCH'];
    await app.inject({ method: 'PROPFIND' as 'GET', url: '/healthz' });
    const before = seriesCount((await app.inject('/metrics')).body);
    for (const method of methods) {
      for (const url of ['/healthz', '/events', '/nowhere']) {
        await app.inject({ method: method as 'GET', url });
      }
    }
    const text = (await app.inject('/metrics')).body;
    expect(text).not.toMatch(/method="(PROPFIND|PURGE|MKCOL|LOCK|SEARCH)"/);
    expect(text).toMatch(/http_requests_total\{method="other",path="unmatched",status="404"\} \d+/);
    // Only the series of the new paths appear, whatever the number of methods.
    expect(seriesCount(text) - before).toBeLessThan(40);
  });
});

describe('security headers (item 13)', () => {
  it('sends nosniff, no framing and a CSP without inline or foreign scripts on every answer', async () => {
    for (const url of ['/healthz', '/docs', '/docs/json', '/nowhere', '/stats/dau?from=x']) {
      const res = await app.inject(url);
      expect(res.headers['x-content-type-options'], url).toBe('nosniff');
      expect(res.headers['x-frame-options'], url).toBe('DENY');
      const csp = String(res.headers['content-security-policy']);
      expect(csp, url).toContain("frame-ancestors 'none'");
      expect(csp, url).toContain("script-src 'self'");
      expect(csp, url).toContain("connect-src 'self'");
      expect(csp, url).toContain("img-src 'self' data:");
      expect(csp, url).not.toMatch(/script-src[^;]*(unsafe-inline|unsafe-eval|https:|\*)/);
      expect(csp, url).not.toContain('upgrade-insecure-requests'); // plain-HTTP deployments
    }
  });

  it('Swagger UI works under the CSP: it loads only same-origin files, no inline script', async () => {
    const page = await app.inject('/docs/');
    expect(page.statusCode).toBe(200);
    const scripts = [...page.body.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, content] of scripts) {
      expect(content?.trim()).toBe(''); // no inline code
      const src = /src="([^"]+)"/.exec(attributes ?? '')?.[1];
      expect(src).toMatch(/^\.\/static\//); // same origin
      const file = await app.inject(`/docs/${src?.slice(2)}`);
      expect(file.statusCode, src).toBe(200);
    }
    const styles = [...page.body.matchAll(/<link[^>]*href="([^"]+)"/g)].map((m) => m[1]);
    for (const href of styles) expect(href).toMatch(/^\.\/static\//);
  });
});

describe('METRICS_TOKEN (item 13)', () => {
  it('when set, /metrics needs the bearer token; other endpoints do not', async () => {
    const token = 'a-metrics-token-of-some-length';
    const secured = await buildApp({
      config: {
        ...loadConfig({}),
        logLevel: 'silent',
        maxBatchEvents: 10,
        maxBodyBytes: 1 << 20,
        metricsToken: token,
      },
      db: database.db,
      pool: database.pool,
    });
    try {
      for (const authorization of [undefined, 'Bearer wrong', `Basic ${token}`, token, 'Bearer ']) {
        const res = await secured.inject({
          url: '/metrics',
          headers: authorization === undefined ? {} : { authorization },
        });
        expect(res.statusCode, authorization).toBe(401);
        expect(res.headers['www-authenticate']).toBe('Bearer');
        expect(res.json()).toEqual({
          error: 'unauthorized',
          message: expect.stringContaining('Bearer'),
        });
        expect(res.body).not.toContain(token);
      }
      const ok = await secured.inject({
        url: '/metrics',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(ok.statusCode).toBe(200);
      expect(ok.body).toContain('http_requests_total');
      expect((await secured.inject('/healthz')).statusCode).toBe(200);
    } finally {
      await secured.close();
    }
    // Without a token, /metrics stays open (the default).
    expect((await app.inject('/metrics')).statusCode).toBe(200);
  });
});
