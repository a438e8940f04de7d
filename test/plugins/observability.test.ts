import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKysely, createPool } from '../../src/db/pool.js';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, databaseUrl, type TestDatabase } from '../helpers/database.js';
import { event } from '../helpers/events.js';

let database: TestDatabase;
let app: FastifyInstance;
let logs: Record<string, unknown>[];

beforeAll(async () => {
  database = await createTestDatabase();
  ({ app, logs } = await buildTestApp(database, { maxBatchEvents: 10 }));
});
afterAll(async () => {
  await app.close();
  await database.close();
});

function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('GET /metrics', () => {
  it('counts requests by route template, ingest outcomes exactly, and has process metrics', async () => {
    const batch = [event(), event(), event()];
    await app.inject({ method: 'POST', url: '/events', payload: batch }); // 3 accepted
    await app.inject({ method: 'POST', url: '/events', payload: [...batch, event()] }); // 1 accepted, 3 skipped
    await app.inject({
      method: 'POST',
      url: '/events',
      payload: [event(), event({ user_id: '' })],
    }); // 422: 2 rejected
    await app.inject({
      method: 'POST',
      url: '/events',
      payload: Array.from({ length: 11 }, () => event()),
    }); // 413: 11 rejected
    await app.inject('/stats/dau?from=2025-10-01&to=2025-10-02');
    await app.inject('/stats/dau?from=2025-10-03&to=2025-10-04');
    await app.inject('/no/such/path/123');
    await app.inject('/another/random/url');

    const res = await app.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    const text = res.body;
    expect(metricValue(text, 'events_ingest_accepted_total')).toBe(4);
    expect(metricValue(text, 'events_ingest_skipped_total')).toBe(3);
    expect(
      metricValue(text, 'events_ingest_rejected_total{source="events",reason="invalid_batch"}'),
    ).toBe(2);
    expect(
      metricValue(text, 'events_ingest_rejected_total{source="events",reason="batch_too_large"}'),
    ).toBe(11);
    expect(
      metricValue(text, 'http_requests_total{method="POST",path="/events",status="202"}'),
    ).toBe(2);
    expect(
      metricValue(text, 'http_requests_total{method="POST",path="/events",status="422"}'),
    ).toBe(1);
    expect(
      metricValue(text, 'http_requests_total{method="POST",path="/events",status="413"}'),
    ).toBe(1);
    // The route template, never the raw URL with its query string.
    expect(
      metricValue(text, 'http_requests_total{method="GET",path="/stats/dau",status="200"}'),
    ).toBe(2);
    expect(
      metricValue(text, 'http_requests_total{method="GET",path="unmatched",status="404"}'),
    ).toBe(2);
    expect(text).not.toContain('/no/such/path');
    expect(text).toContain(
      'http_request_duration_seconds_bucket{le="0.1",method="GET",path="/stats/dau"}',
    );
    expect(
      metricValue(text, 'http_request_duration_seconds_count{method="GET",path="/stats/dau"}'),
    ).toBe(2);
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_heap_size_used_bytes');
  });
});

describe('access logs and request ids', () => {
  it('writes one JSON access line per request with the fields operators grep for', async () => {
    logs.length = 0;
    const res = await app.inject('/healthz?probe=1');
    const id = res.headers['x-request-id'];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const access = logs.filter((l) => l.logger === 'access');
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({
      level: 'info',
      logger: 'access',
      method: 'GET',
      path: '/healthz',
      status: 200,
      request_id: id,
      msg: `access method=GET path=/healthz status=200 request_id=${id}`,
    });
    expect(typeof access[0]?.duration_ms).toBe('number');
    expect(typeof access[0]?.time).toBe('string');
  });

  it('uses a sane client X-Request-ID and replaces an insane one', async () => {
    const sane = await app.inject({
      url: '/healthz',
      headers: { 'x-request-id': 'abc-123.def:45_x' },
    });
    expect(sane.headers['x-request-id']).toBe('abc-123.def:45_x');
    for (const bad of ['has space', 'x'.repeat(129), 'semi;colon', '']) {
      const res = await app.inject({ url: '/healthz', headers: { 'x-request-id': bad } });
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
    }
  });

  it('echoes the request id on errors and attaches it to every log line of the request', async () => {
    logs.length = 0;
    const res = await app.inject({ url: '/nowhere', headers: { 'x-request-id': 'req-404' } });
    expect(res.statusCode).toBe(404);
    expect(res.headers['x-request-id']).toBe('req-404');
    expect(res.json()).toEqual({ error: 'not_found', message: 'no route GET /nowhere' });
    expect(logs.find((l) => l.logger === 'access')).toMatchObject({
      request_id: 'req-404',
      status: 404,
    });
  });

  it('logs a 5xx (a database error: its SQLSTATE, not its text) but answers with a generic message', async () => {
    // A database that does not exist: a server error, not an outage.
    const pool = createPool(databaseUrl('no_such_database_here'));
    const db = createKysely(pool);
    const broken = await buildTestApp({ db, pool });
    const res = await broken.app.inject({
      method: 'POST',
      url: '/events',
      payload: [event()],
      headers: { 'x-request-id': 'boom-1' },
    });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: 'internal_error', message: 'internal server error' });
    const errorLine = broken.logs.find((l) => l.level === 'error');
    expect(errorLine).toMatchObject({
      request_id: 'boom-1',
      msg: expect.stringContaining('database error SQLSTATE 3D000'),
      err: { type: 'DatabaseError', sqlstate: '3D000' },
    });
    await broken.app.close();
    await db.destroy();
  });
});

describe('GET /docs', () => {
  it('serves Swagger UI and an OpenAPI document listing every endpoint with examples', async () => {
    const ui = await app.inject('/docs');
    expect(ui.statusCode).toBe(200);
    expect(ui.body).toContain('swagger-ui');

    const doc = (await app.inject('/docs/json')).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/events',
        '/healthz',
        '/metrics',
        '/stats/active-users',
        '/stats/dau',
        '/stats/live',
        '/stats/overview',
        '/stats/retention',
        '/stats/retention-matrix',
        '/stats/top-events',
        '/stats/funnel',
        '/stats/properties',
        '/users',
        '/users/{user_id}',
        '/users/{user_id}/events',
        '/v1/batch',
        '/v1/track',
        '/v1/identify',
        '/v1/page',
        '/v1/screen',
        '/v1/group',
        '/v1/alias',
        '/batch',
        '/batch/',
        '/capture',
        '/capture/',
        '/e',
        '/e/',
        '/i/v0/e',
        '/i/v0/e/',
        '/2/httpapi',
        '/projects',
        '/projects/{slug}',
        '/projects/{slug}/keys',
        '/projects/{slug}/keys/{id}',
      ]),
    );
    // Bodies and responses are named schemas (components), which carry the examples.
    const named = (media: { schema: { $ref: string } }) =>
      doc.components.schemas[media.schema.$ref.replace('#/components/schemas/', '')];
    const post = doc.paths['/events'].post;
    expect(named(post.requestBody.content['application/json']).examples[0][0]).toHaveProperty(
      'event_id',
    );
    expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(['202', '413', '422']));
    const dau = doc.paths['/stats/dau'].get;
    expect(dau.parameters.map((p: { name: string }) => p.name).sort()).toEqual([
      'breakdown',
      'breakdown_limit',
      'from',
      'project',
      'to',
      'tz',
      'where',
    ]);
    expect(named(dau.responses['200'].content['application/json']).examples[0][0]).toHaveProperty(
      'unique_users',
    );
    const retention = doc.paths['/stats/retention'].get;
    expect(
      retention.parameters.find((p: { name: string }) => p.name === 'start_date').required,
    ).toBe(true);
  });
});
