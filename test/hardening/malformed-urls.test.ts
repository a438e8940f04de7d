import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { metricValue } from '../helpers/ingest-requests.js';

/**
 * Issue 19, finding 7: `GET /%ZZ` was answered by the router itself, `{"error":"Bad
 * Request","code":"FST_ERR_BAD_URL"}`, without X-Request-ID, security headers, an access
 * line or a metric.
 */

let database: TestDatabase;
let app: FastifyInstance;
let logs: Record<string, unknown>[];
beforeAll(async () => {
  database = await createTestDatabase();
  ({ app, logs } = await buildTestApp(database));
});
afterAll(async () => {
  await app.close();
  await database.close();
});

const SERIES = 'http_requests_total{method="GET",path="unmatched",status="400"}';

describe('malformed URLs (finding 7)', () => {
  it.each(['/%ZZ', '/%', '/stats/dau%ZZ?from=2025-10-01', '/events/%C0%AF', '/assets/%E0%A4%A'])(
    '%s: the error shape, X-Request-ID, security headers, an access line and a metric',
    async (url) => {
      const before = await metricValue(app, SERIES);
      const res = await app.inject({
        method: 'GET',
        url,
        headers: { 'x-request-id': 'bad-url-1' },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({
        error: 'bad_request',
        message: expect.stringContaining('is not valid percent-encoded UTF-8'),
      });
      expect(res.headers['x-request-id']).toBe('bad-url-1');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(String(res.headers['content-security-policy'])).toContain("default-src 'self'");
      const path = url.split('?')[0];
      expect(
        logs.filter((l) => l.logger === 'access' && l.request_id === 'bad-url-1').at(-1),
      ).toMatchObject({
        method: 'GET',
        path,
        status: 400,
      });
      expect(await metricValue(app, SERIES)).toBe(before + 1);
    },
  );

  it('over a real socket too, and well-formed escapes still route', async () => {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = new URL(address);
    const answer = await new Promise<string>((resolve) => {
      const socket = net.connect(Number(port), '127.0.0.1', () =>
        socket.write('GET /%ZZ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      );
      let text = '';
      socket.on('data', (d) => {
        text += String(d);
      });
      socket.on('close', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toMatch(/x-request-id: /i);
    expect(answer).toContain('"error":"bad_request"');
    const ok = await app.inject('/stats/dau?from=2025-10-01&to=2025-10-02&tz=Europe%2FKyiv');
    expect(ok.statusCode).toBe(200);
    expect((await app.inject('/%68ealthz')).statusCode).toBe(200); // %68 is "h"
  });
});
