import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createKeys, metricValue } from '../helpers/ingest-requests.js';
import { emptyTables } from '../helpers/summaries.js';

/**
 * Issue 19, findings 1 and 8: an SDK body is admitted (key, batch limit) from one pass over
 * its bytes, before it is decoded or parsed, and one pathological message costs only
 * itself.
 */

let database: TestDatabase;
let app: FastifyInstance;
let key: string;

beforeAll(async () => {
  database = await createTestDatabase();
  ({ writer: key } = (await createKeys(database.db, { writer: 'write' })) as { writer: string });
  ({ app } = await buildTestApp(database, { auth: 'required' }));
});
afterAll(async () => {
  await app.close();
  await database.close();
});
beforeEach(async () => {
  await emptyTables(database.pool);
});

const MESSAGES = 3_400_000; // ~10 MB of `{},`: what the issue sent
const tiny = (member: string | undefined, extra = '') => {
  const list = `[${'{},'.repeat(MESSAGES - 1)}{}]`;
  return Buffer.from(member === undefined ? list : `{"${member}":${list}${extra}}`);
};

/** Each SDK route family with a body of 3.4M empty messages in its envelope. */
const ROUTES: {
  url: string;
  type: string;
  body: (bodyKey?: string) => Buffer;
  /** 413 says so for a batch; a single message is refused by the JSON budgets. */
  tooMany: RegExp;
  source: string;
}[] = [
  {
    url: '/v1/batch',
    type: 'application/json',
    body: (k) => tiny('batch', k ? `,"writeKey":"${k}"` : ''),
    tooMany: /the batch has 3400000 messages/,
    source: 'segment',
  },
  {
    url: '/2/httpapi',
    type: 'application/json',
    body: (k) => tiny('events', k ? `,"api_key":"${k}"` : ''),
    tooMany: /the batch has 3400000 messages/,
    source: 'amplitude',
  },
  {
    url: '/batch/',
    type: 'application/json',
    body: (k) => tiny('batch', k ? `,"api_key":"${k}"` : ''),
    tooMany: /the batch has 3400000 messages/,
    source: 'posthog',
  },
  {
    // posthog-js: an array of events, as text/plain (no CORS preflight needed).
    url: '/e/',
    type: 'text/plain',
    body: (k) =>
      k
        ? Buffer.from(`[{"properties":{"token":"${k}"}},${'{},'.repeat(MESSAGES - 2)}{}]`)
        : tiny(undefined),
    tooMany: /the batch has 3400000 messages/,
    source: 'posthog',
  },
  {
    url: '/v1/track',
    type: 'application/json',
    body: (k) => tiny('batch', k ? `,"writeKey":"${k}"` : ''),
    tooMany: /more than 200000 JSON objects and arrays/,
    source: 'segment',
  },
];

/** What parsing such a body costs here and now: the yardstick for "quickly". */
let parseMs = 0;
beforeAll(() => {
  const text = tiny('batch').toString();
  const started = performance.now();
  JSON.parse(text);
  parseMs = performance.now() - started;
});

let clients = 0;
/**
 * Sends a request (from an address of its own unless told: an address that keeps sending
 * bodies without a valid key is refused before its next body is read) and measures its
 * answer time and the longest event-loop block meanwhile.
 */
async function timedPost(
  url: string,
  type: string,
  body: Buffer,
  headers = {},
  remoteAddress = `10.19.${Math.floor(++clients / 250)}.${clients % 250}`,
) {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const started = performance.now();
  const res = await app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': type, ...headers },
    payload: body,
    remoteAddress,
  });
  const elapsed = performance.now() - started;
  delay.disable();
  return { res, elapsed, blockedMs: delay.max / 1e6 };
}

describe('large SDK bodies of tiny messages (finding 1)', () => {
  it.each(ROUTES)('$url without a key: 401 before any parse, without blocking', async (route) => {
    const { res, elapsed, blockedMs } = await timedPost(route.url, route.type, route.body());
    expect(res.statusCode, res.body).toBe(401);
    expect(res.json().error).toBe('unauthorized');
    // Before: 6-26 s with the event loop blocked throughout (JSON.parse, then a mapping
    // per message); now one pass over the bytes, a small part of what a parse costs.
    expect(elapsed, `parse alone: ${parseMs} ms`).toBeLessThan(parseMs / 2);
    expect(blockedMs, `parse alone: ${parseMs} ms`).toBeLessThan(parseMs / 4);
  });

  it.each(ROUTES)('$url with a wrong key in the body: 401, before any parse', async (route) => {
    const { res, elapsed } = await timedPost(route.url, route.type, route.body('ea_wrong'));
    expect(res.statusCode, res.body).toBe(401);
    expect(elapsed, `parse alone: ${parseMs} ms`).toBeLessThan(parseMs / 2);
  });

  it.each(ROUTES)('$url with a valid key (header or body): 413 before any parse', async (route) => {
    for (const [body, headers] of [
      [route.body(), { authorization: `Bearer ${key}` }],
      [route.body(key), {}],
    ] as const) {
      const series = `events_ingest_rejected_total{source="${route.source}",reason="batch_too_large"}`;
      const before = await metricValue(app, series);
      const { res, elapsed, blockedMs } = await timedPost(route.url, route.type, body, headers);
      expect(res.statusCode, res.body).toBe(413);
      expect(res.json()).toMatchObject({
        error: 'payload_too_large',
        message: expect.stringMatching(route.tooMany),
      });
      expect(elapsed, `parse alone: ${parseMs} ms`).toBeLessThan(parseMs / 2);
      expect(blockedMs, `parse alone: ${parseMs} ms`).toBeLessThan(parseMs / 4);
      expect(await metricValue(app, series)).toBeGreaterThan(before);
    }
    const { rows } = await database.pool.query('SELECT count(*)::int AS n FROM events');
    expect(rows[0].n).toBe(0);
  });

  it('an address that keeps sending such bodies without a key is refused before they are read', async () => {
    const route = ROUTES[0] as (typeof ROUTES)[number];
    const body = route.body();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const { res, elapsed } = await timedPost(route.url, route.type, body, {}, '192.0.2.77');
      statuses.push(res.statusCode);
      expect(elapsed, `parse alone: ${parseMs} ms`).toBeLessThan(parseMs / 2);
      if (res.statusCode === 429) {
        expect(res.json().error).toBe('rate_limited');
        expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        expect(res.headers.connection).toBe('close');
      }
    }
    // Twice MAX_BODY_BYTES a minute: about two such bodies, then 429 until the address
    // has paid back what it cost.
    expect(statuses.slice(0, 2)).toEqual([401, 401]);
    expect(statuses.slice(3)).toEqual([429, 429]);
    // A header key is checked before the body: it is not held back.
    const keyed = await app.inject({
      method: 'POST',
      url: '/v1/batch',
      headers: { authorization: `Bearer ${key}` },
      payload: { batch: [{ type: 'track', event: 'e', userId: 'u', messageId: 'k-1' }] },
      remoteAddress: '192.0.2.77',
    });
    expect(keyed.statusCode).toBe(200);
  });

  it('still takes a full batch of real messages with the key in the body', async () => {
    const messages = Array.from({ length: 5000 }, (_, i) => ({
      type: 'track',
      event: 'e',
      userId: `u${i % 50}`,
      messageId: `m-${i}`,
      properties: { i },
    }));
    const res = await app.inject({
      method: 'POST',
      url: '/v1/batch',
      payload: { batch: messages, writeKey: key },
    });
    expect(res.statusCode, res.body).toBe(200);
    const { rows } = await database.pool.query('SELECT count(*)::int AS n FROM events');
    expect(rows[0].n).toBe(5000);
  });
});

describe('one pathological message in an SDK batch (finding 8)', () => {
  const deep = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  // A 16-digit number anywhere makes the body take the exact (recursive) parser, which
  // refuses anything nested over 1000 levels: before, the whole batch was a 422.
  const LONG_NUMBER = '1234567890123456';
  const batches: {
    url: string;
    body: (messages: string[]) => string;
    message: (id: string, extra: string) => string;
  }[] = [
    {
      url: '/v1/batch',
      body: (m) => `{"writeKey":"${key}","batch":[${m.join(',')}]}`,
      message: (id, extra) =>
        `{"type":"track","event":"e","userId":"u","messageId":"${id}","properties":${extra}}`,
    },
    {
      url: '/batch/',
      body: (m) => `{"api_key":"${key}","batch":[${m.join(',')}]}`,
      message: (id, extra) =>
        `{"event":"e","distinct_id":"u","uuid":"${id}","properties":${extra}}`,
    },
    {
      url: '/e/',
      body: (m) => `[${m.join(',')}]`,
      message: (id, extra) =>
        `{"event":"e","uuid":"${id}","properties":{"distinct_id":"u","token":"${key}","p":${extra}}}`,
    },
    {
      url: '/2/httpapi',
      body: (m) => `{"api_key":"${key}","events":[${m.join(',')}]}`,
      message: (id, extra) =>
        `{"event_type":"e","user_id":"u","insert_id":"${id}","event_properties":${extra}}`,
    },
  ];

  it.each(batches)('$url: only that message is skipped, the others stored', async (batch) => {
    const body = batch.body([
      batch.message('ok-1', `{"n":${LONG_NUMBER}}`),
      batch.message('deep-1', deep(1001)),
      batch.message('ok-2', '{}'),
    ]);
    const res = await app.inject({
      method: 'POST',
      url: batch.url,
      headers: { 'content-type': batch.url === '/e/' ? 'text/plain' : 'application/json' },
      payload: body,
    });
    expect(res.statusCode, res.body).toBe(200);
    const { rows } = await database.pool.query(
      `SELECT properties FROM events ORDER BY properties::text`,
    );
    expect(rows).toHaveLength(2);
    // The long number is stored with all its digits.
    expect(JSON.stringify(rows)).toContain(LONG_NUMBER);
  });
});
