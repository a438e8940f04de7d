import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import {
  amplitudeEvent,
  ids,
  post,
  posthogEvent,
  segmentMessage,
} from '../helpers/ingest-requests.js';
import { emptyTables } from '../helpers/summaries.js';

/** The SDK endpoints through HTTP: what each SDK gets back, and what ends up stored. */
let database: TestDatabase;
let app: FastifyInstance;
let logs: Record<string, unknown>[];
const MAX_BATCH_EVENTS = 20;

beforeAll(async () => {
  database = await createTestDatabase();
  ({ app, logs } = await buildTestApp(database, { maxBatchEvents: MAX_BATCH_EVENTS }));
});
afterAll(async () => {
  await app?.close();
  await database?.close();
});
beforeEach(async () => {
  await emptyTables(database.pool);
});

async function stored(): Promise<{ event_id: string; user_id: string; event_type: string }[]> {
  const { rows } = await database.pool.query(
    'SELECT event_id, user_id, event_type FROM events ORDER BY event_type, user_id, event_id',
  );
  return rows;
}

async function count(): Promise<number> {
  const { rows } = await database.pool.query('SELECT count(*)::int AS n FROM events');
  return rows[0].n;
}

/** Sums of every series of a metric whose labels include all of `labels`. */
async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

function topEvents() {
  return app
    .inject({ method: 'GET', url: '/stats/top-events?from=2025-10-19&to=2025-10-19' })
    .then((r) => r.json());
}

describe('success bodies, exactly as each SDK reads them', () => {
  it('Segment / RudderStack: 200 {} on /v1/batch and every single-message path', async () => {
    const cases: [string, unknown][] = [
      ['/v1/batch', { batch: [segmentMessage(randomUUID())] }],
      ['/v1/track', segmentMessage(randomUUID())],
      ['/v1/identify', { userId: 'u2', messageId: randomUUID(), traits: { plan: 'pro' } }],
      ['/v1/page', { anonymousId: 'a1', messageId: randomUUID(), name: 'Home' }],
      ['/v1/screen', { userId: 'u3', messageId: randomUUID(), name: 'Main' }],
      ['/v1/group', { userId: 'u4', messageId: randomUUID(), groupId: 'g1', traits: {} }],
      ['/v1/alias', { userId: 'u5', previousId: 'a1', messageId: randomUUID() }],
    ];
    for (const [url, body] of cases) {
      const res = await post(app, url, body);
      expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
      expect(res.body).toBe('{}');
    }
    expect((await stored()).map((e) => e.event_type)).toEqual([
      '$create_alias',
      '$groupidentify',
      '$identify',
      '$pageview',
      '$screen',
      'signup',
      'signup',
    ]);
  });

  it('PostHog: 200 {"status":1} on every capture path, with and without the trailing slash', async () => {
    const paths = [
      '/batch/',
      '/batch',
      '/capture',
      '/capture/',
      '/e',
      '/e/',
      '/i/v0/e',
      '/i/v0/e/',
    ];
    for (const url of paths) {
      const res = await post(app, url, { batch: [posthogEvent(randomUUID())] });
      expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
      expect(res.body).toBe('{"status":1}');
    }
    expect(await count()).toBe(paths.length);
  });

  it('Amplitude: {"code":200,"events_ingested":N,"payload_size_bytes":B,"server_upload_time":ms}', async () => {
    // N counts the events this request stored: the second send of 'not-a-uuid-1' stores nothing.
    for (const [url, stored] of [
      ['/2/httpapi', 2],
      ['/batch', 1],
    ] as const) {
      const events = [
        amplitudeEvent(randomUUID()),
        amplitudeEvent('not-a-uuid-1'),
        { user_id: 'x' },
      ];
      const payload = JSON.stringify({ api_key: 'k', events });
      const before = Date.now();
      const res = await app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json' },
        payload,
      });
      const after = Date.now();
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json();
      expect(Object.keys(body)).toEqual([
        'code',
        'events_ingested',
        'payload_size_bytes',
        'server_upload_time',
      ]);
      expect(body).toMatchObject({
        code: 200,
        events_ingested: stored,
        payload_size_bytes: Buffer.byteLength(payload),
      });
      expect(body.server_upload_time).toBeGreaterThanOrEqual(before);
      expect(body.server_upload_time).toBeLessThanOrEqual(after);
    }
    expect(await count()).toBe(3);
  });

  it('Amplitude counts what was stored: a retried batch is 0 events ingested, storing nothing new', async () => {
    const events = [amplitudeEvent('ins-1'), amplitudeEvent('ins-2')];
    for (const ingested of [2, 0]) {
      const res = await post(app, '/2/httpapi', { events });
      expect(res.json().events_ingested).toBe(ingested);
    }
    expect(await count()).toBe(2);
  });
});

describe('/batch: Amplitude or PostHog by the envelope', () => {
  it('an envelope with `events` is Amplitude, one with `batch` (or a single event) PostHog', async () => {
    const amplitude = await post(app, '/batch', {
      api_key: 'k',
      events: [amplitudeEvent('same-id', { event_type: 'amp', user_id: 'ua' })],
    });
    expect(amplitude.json()).toMatchObject({ code: 200, events_ingested: 1 });
    const posthog = await post(app, '/batch', {
      api_key: 'k',
      batch: [posthogEvent('same-id', { event: 'ph', distinct_id: 'up' })],
    });
    expect(posthog.body).toBe('{"status":1}');
    const single = await post(app, '/batch', posthogEvent(randomUUID(), { event: 'ph1' }));
    expect(single.body).toBe('{"status":1}');
    // The same non-UUID id from two families is two events (ids are namespaced per family).
    const rows = await stored();
    expect(rows.map((r) => [r.event_type, r.user_id])).toEqual([
      ['amp', 'ua'],
      ['ph', 'up'],
      ['ph1', 'u1'],
    ]);
    expect(rows[0]?.event_id).not.toBe(rows[1]?.event_id);
  });
});

describe('invalid messages inside a batch', () => {
  it('stores the valid ones, answers 200, counts each skipped one by source and reason, logs them', async () => {
    const rejectedBefore = await metric('events_ingest_rejected_total', { source: 'segment' });
    const rejectedByReason: Record<string, number> = {};
    for (const reason of ['event_type', 'user_id', 'occurred_at', 'other']) {
      rejectedByReason[reason] = await metric('events_ingest_rejected_total', {
        source: 'segment',
        reason,
      });
    }
    const good = ids(2);
    const logsBefore = logs.length;
    const res = await post(app, '/v1/batch', {
      batch: [
        segmentMessage(good[0] as string),
        segmentMessage(randomUUID(), { event: undefined }), // track without event
        'not an object',
        segmentMessage(randomUUID(), { userId: undefined }), // no userId nor anonymousId
        segmentMessage(randomUUID(), { timestamp: '2025-02-30T10:00:00Z' }),
        segmentMessage(randomUUID(), { event: ' ' }), // our rule: event_type not blank
        segmentMessage(randomUUID(), { timestamp: '2999-01-01T00:00:00Z' }), // too far ahead
        segmentMessage(good[1] as string),
      ],
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).toBe('{}');
    expect((await stored()).map((e) => e.event_id).sort()).toEqual([...good].sort());

    expect(await metric('events_ingest_rejected_total', { source: 'segment' })).toBe(
      rejectedBefore + 6,
    );
    // One label per field of ours, whether the adapter or our validator found the problem.
    const reasons = { event_type: 2, user_id: 1, occurred_at: 2, other: 1 };
    for (const [reason, n] of Object.entries(reasons)) {
      expect(
        (await metric('events_ingest_rejected_total', { source: 'segment', reason })) -
          (rejectedByReason[reason] ?? 0),
        reason,
      ).toBe(n);
    }

    const warning = logs
      .slice(logsBefore)
      .find((l) => l.logger === 'ingest' && l.source === 'segment');
    expect(warning).toMatchObject({ level: 'warn', skipped: 6 });
    expect(warning?.msg).toBe('skipped 6 invalid of 8 segment messages');
    const listed = warning?.events as { index: number; field: string; message: string }[];
    expect(listed.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(listed[5]?.message).toContain('in the future');
  });

  it('logs at most the first 100 skipped messages of a request, counts them all', async () => {
    const { app: big, logs: bigLogs } = await buildTestApp(database, { maxBatchEvents: 500 });
    try {
      const batch = Array.from({ length: 150 }, () => posthogEvent(randomUUID(), { event: null }));
      batch.push(posthogEvent(randomUUID()));
      const res = await post(big, '/batch/', { batch });
      expect(res.body).toBe('{"status":1}');
      const warning = bigLogs.find((l) => l.logger === 'ingest');
      expect(warning).toMatchObject({ skipped: 150 });
      expect(warning?.events).toHaveLength(100);
      expect(await count()).toBe(1);
    } finally {
      await big.close();
    }
  });

  it('a batch where every message is invalid is still a 200 that stores nothing', async () => {
    const res = await post(app, '/2/httpapi', { events: [{ event_type: 'x' }, 5] });
    expect(res.json()).toMatchObject({ code: 200, events_ingested: 0 });
    expect(await count()).toBe(0);
  });
});

describe('malformed envelopes and limits', () => {
  it.each([
    ['/v1/batch', { batch: 'nope' }, 'batch'],
    ['/v1/batch', [segmentMessage(randomUUID())], 'body'],
    ['/v1/batch', { batch: [], sentAt: 'yesterday' }, 'sentAt'],
    ['/v1/track', 'a string', 'body'],
    ['/batch/', { batch: { event: 'x' } }, 'batch'],
    ['/e/', 42, 'body'],
    ['/batch/', { batch: [], sent_at: 17 }, 'sent_at'],
  ])('POST %s %j is a 400 naming %s', async (url, body, field) => {
    const res = await post(app, url, body);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({
      error: 'bad_request',
      message: expect.any(String),
      details: [expect.objectContaining({ field })],
    });
  });

  it.each([
    ['/2/httpapi', { events: 'nope' }],
    ['/2/httpapi', { api_key: 'k' }],
    ['/2/httpapi', [amplitudeEvent(randomUUID())]],
    ['/2/httpapi', { events: [], client_upload_time: 'soon' }],
  ])('Amplitude %s %j is a 400 carrying code 400', async (url, body) => {
    const res = await post(app, url, body);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({
      code: 400,
      error: 'bad_request',
      message: expect.any(String),
    });
  });

  it('malformed JSON is a 400 invalid_json on every family (Amplitude with code)', async () => {
    for (const url of ['/v1/batch', '/batch/', '/2/httpapi', '/batch']) {
      const res = await app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json' },
        payload: '{"batch": [',
      });
      expect(res.statusCode, url).toBe(400);
      expect(res.json()).toMatchObject({ error: 'invalid_json' });
      if (url === '/2/httpapi' || url === '/batch') expect(res.json().code).toBe(400);
    }
  });

  it('more messages than MAX_BATCH_EVENTS is a 413 that stores nothing and is counted', async () => {
    const n = MAX_BATCH_EVENTS + 1;
    const before = await metric('events_ingest_rejected_total', { reason: 'batch_too_large' });
    const cases: [string, unknown][] = [
      ['/v1/batch', { batch: ids(n).map((id) => segmentMessage(id)) }],
      ['/batch/', { batch: ids(n).map((id) => posthogEvent(id)) }],
      ['/e/', ids(n).map((id) => posthogEvent(id))],
      ['/2/httpapi', { events: ids(n).map((id) => amplitudeEvent(id)) }],
      ['/batch', { events: ids(n).map((id) => amplitudeEvent(id)) }],
    ];
    for (const [url, body] of cases) {
      const res = await post(app, url, body);
      expect(res.statusCode, url).toBe(413);
      expect(res.json()).toMatchObject({ error: 'payload_too_large' });
      expect(res.json().message).toContain(`${n} messages; the limit is ${MAX_BATCH_EVENTS}`);
      if (url === '/2/httpapi' || url === '/batch') expect(res.json().code).toBe(413);
    }
    expect(await metric('events_ingest_rejected_total', { reason: 'batch_too_large' })).toBe(
      before + n * cases.length,
    );
    expect(await count()).toBe(0);
    // Exactly the limit is fine.
    const atLimit = await post(app, '/v1/batch', {
      batch: ids(MAX_BATCH_EVENTS).map((id) => segmentMessage(id)),
    });
    expect(atLimit.statusCode).toBe(200);
    expect(await count()).toBe(MAX_BATCH_EVENTS);
  });
});

describe('stored once, visible at once', () => {
  it('events are in /stats as soon as the response is sent', async () => {
    const sends: [string, unknown][] = [
      ['/v1/batch', { batch: [segmentMessage(randomUUID(), { event: 'seg' })] }],
      ['/batch/', { batch: [posthogEvent(randomUUID(), { event: 'ph' })] }],
      ['/2/httpapi', { events: [amplitudeEvent(randomUUID(), { event_type: 'amp' })] }],
    ];
    const expected: Record<string, number> = {};
    for (const [url, body] of sends) {
      expect((await post(app, url, body)).statusCode).toBe(200);
      const type = url === '/v1/batch' ? 'seg' : url === '/batch/' ? 'ph' : 'amp';
      expected[type] = 1;
      const top = (await topEvents()) as { event_type: string; count: number }[];
      expect(Object.fromEntries(top.map((t) => [t.event_type, t.count]))).toEqual(expected);
    }
    const dau = await app.inject({
      method: 'GET',
      url: '/stats/dau?from=2025-10-19&to=2025-10-19',
    });
    expect(dau.json()).toEqual([{ date: '2025-10-19', unique_users: 1 }]);
  });

  it('a retried message (same messageId / uuid / insert_id, UUID or not) stores nothing new', async () => {
    const messageIds = ['msg-0001', randomUUID(), 'ABC-def', '12345'];
    const upper = randomUUID().toUpperCase();
    const sends: [string, unknown][] = [
      [
        '/v1/batch',
        { batch: messageIds.map((id) => segmentMessage(id)), sentAt: new Date().toISOString() },
      ],
      ['/v1/track', segmentMessage(upper)],
      ['/batch/', { batch: messageIds.map((id) => posthogEvent(id)) }],
      ['/e/', [posthogEvent('js-uuid-1')]],
      ['/2/httpapi', { events: messageIds.map((id) => amplitudeEvent(id)) }],
      ['/2/httpapi', { events: [amplitudeEvent('', { insert_id: 12345 })] }], // numeric insert_id, as some clients send
    ];
    for (const [url, body] of sends) expect((await post(app, url, body)).statusCode).toBe(200);
    const first = await stored();
    // Every id is its family's own (a UUID too: 4 ids x 3 families), plus the upper-case UUID
    // and 'js-uuid-1'; the number 12345 is the id "12345".
    expect(first).toHaveLength(14);
    const statsBefore = await topEvents();
    const acceptedBefore = await metric('events_ingest_accepted_total');

    // The SDKs retry the same bytes; a gzipped retry and a lower-cased UUID are the same message.
    for (const [url, body] of sends) expect((await post(app, url, body)).statusCode).toBe(200);
    const gz = await app.inject({
      method: 'POST',
      url: '/v1/track',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      payload: gzipSync(JSON.stringify(segmentMessage(upper.toLowerCase()))),
    });
    expect(gz.statusCode).toBe(200);
    expect(await stored()).toEqual(first);
    expect(await topEvents()).toEqual(statsBefore);
    expect(await metric('events_ingest_accepted_total')).toBe(acceptedBefore);
    expect(first.map((e) => e.event_id)).toContain(upper.toLowerCase());
  });

  it('messages without any id cannot be deduplicated: each send stores them again', async () => {
    const message = { ...segmentMessage('x'), messageId: undefined };
    for (let i = 0; i < 2; i++) await post(app, '/v1/batch', { batch: [message] });
    expect(await count()).toBe(2);
  });
});
