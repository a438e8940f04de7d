import createClient from 'openapi-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { components, paths } from '../../web/src/api/schema.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { event } from '../helpers/events.js';
import { newKey } from '../helpers/ingest-requests.js';
import { dedupe, oracleDau, oracleTopEvents, type StoredEvent } from '../helpers/oracle.js';
import { startServer, type TestServer } from '../web/server.js';

/**
 * The client generated from the committed document (openapi-typescript types,
 * openapi-fetch calls) against the real server on a real port, AUTH=required: what a team
 * generating its client from openapi.json gets.
 */

type EventInput = components['schemas']['EventInput'];

let database: TestDatabase;
let server: TestServer;
let writeKey: string;
let readKey: string;

beforeAll(async () => {
  database = await createTestDatabase();
  writeKey = await newKey(database.db, 'client-writer', 'write');
  readKey = await newKey(database.db, 'client-reader', 'read');
  server = await startServer(database, { auth: 'required' });
});
afterAll(async () => {
  await server?.close();
  await database?.close();
});

const client = (key?: string) =>
  createClient<paths>({
    baseUrl: server.url,
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });

const stored = (events: EventInput[]): StoredEvent[] =>
  dedupe(events).map((e) => ({ ...e, epochMs: Date.parse(e.occurred_at) }));

describe('the generated client against a running server', () => {
  // Four users over three days, one event repeated (a duplicate is skipped, not an error).
  const users = ['ana', 'bo', 'cy', 'dee'];
  const events: EventInput[] = users.flatMap((user_id, u) =>
    Array.from({ length: u + 1 }, (_, i) =>
      event({
        user_id,
        occurred_at: `2025-10-${String(19 + (i % 3)).padStart(2, '0')}T${String(8 + u).padStart(2, '0')}:00:00Z`,
        event_type: i % 2 === 0 ? 'login' : 'purchase',
      }),
    ),
  );
  const batch = [...events, events[0] as EventInput];

  it('ingests with a write key and reads the exact numbers with a read key', async () => {
    const ingest = await client(writeKey).POST('/events', { body: batch });
    expect(ingest.response.status).toBe(202);
    expect(ingest.data).toEqual({ accepted: events.length, skipped: 1 });

    const range = { from: '2025-10-18', to: '2025-10-22', tz: 'UTC' };
    const dau = await client(readKey).GET('/stats/dau', { params: { query: range } });
    expect(dau.error).toBeUndefined();
    expect(dau.data).toEqual(oracleDau(stored(batch), range.from, range.to, range.tz));

    const top = await client(readKey).GET('/stats/top-events', {
      params: { query: { ...range, limit: 5 } },
    });
    expect(top.data).toEqual(oracleTopEvents(stored(batch), range.from, range.to, 'UTC', 5));
  });

  it('gets the documented errors as typed values', async () => {
    const anonymous = await client().GET('/stats/dau');
    expect(anonymous.response.status).toBe(401);
    expect(anonymous.error?.error).toBe('unauthorized');

    const wrongScope = await client(writeKey).GET('/stats/dau');
    expect(wrongScope.response.status).toBe(403);
    expect(wrongScope.error?.error).toBe('forbidden');

    const invalid = await client(readKey).GET('/stats/dau', {
      params: { query: { from: '2025-10-20', to: '2025-10-19' } },
    });
    expect(invalid.response.status).toBe(422);
    expect(invalid.error?.details?.map((d) => d.field)).toContain('from');
  });

  it('speaks an SDK endpoint and reads the plain-text metrics', async () => {
    const segment = await client().POST('/v1/batch', {
      body: {
        writeKey,
        batch: [{ type: 'track', event: 'Signed Up', userId: 'eve', messageId: 'client-1' }],
      },
    });
    expect(segment.response.status).toBe(200);
    expect(segment.data).toEqual({});

    const metrics = await client().GET('/metrics', { parseAs: 'text' });
    expect(metrics.response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(metrics.data).toMatch(/^events_ingest_accepted_total \d+$/m);
  });
});
