import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Kysely, PostgresDialect } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/schema.js';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { event, type TestEvent } from '../helpers/events.js';
import { emptyTables } from '../helpers/summaries.js';

let database: TestDatabase;
let app: FastifyInstance;

beforeAll(async () => {
  database = await createTestDatabase();
  ({ app } = await buildTestApp(database, { maxBatchEvents: 50, maxBodyBytes: 64 * 1024 }));
});
afterAll(async () => {
  await app.close();
  await database.close();
});
beforeEach(async () => {
  await emptyTables(database.pool);
});

function post(body: unknown) {
  return app.inject({ method: 'POST', url: '/events', payload: body as object });
}

async function storedCount(): Promise<number> {
  const { rows } = await database.pool.query('SELECT count(*)::int AS n FROM events');
  return rows[0].n;
}

describe('POST /events', () => {
  it('stores new events and answers 202 with accepted/skipped', async () => {
    const batch = [event(), event({ user_id: 'u2', event_type: 'view' })];
    const res = await post(batch);
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: 2, skipped: 0 });
    const { rows } = await database.pool.query(
      'SELECT event_id, user_id, event_type, properties, received_at FROM events ORDER BY user_id',
    );
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      event_id: batch[0]?.event_id,
      user_id: 'u1',
      properties: { device: 'mobile' },
    });
    expect(rows[0].received_at).toBeInstanceOf(Date);
  });

  it('is idempotent: the same batch again is all skipped and changes nothing', async () => {
    const batch = [event(), event(), event()];
    expect((await post(batch)).json()).toEqual({ accepted: 3, skipped: 0 });
    const again = await post(batch);
    expect(again.statusCode).toBe(202);
    expect(again.json()).toEqual({ accepted: 0, skipped: 3 });
    expect(await storedCount()).toBe(3);
  });

  it('counts repeats inside a batch as skipped; the first occurrence wins', async () => {
    const id = randomUUID();
    const res = await post([
      event({ event_id: id, user_id: 'first', properties: { n: 1 } }),
      event({ event_id: id, user_id: 'second', properties: { n: 2 } }),
      event(),
    ]);
    expect(res.json()).toEqual({ accepted: 2, skipped: 1 });
    const { rows } = await database.pool.query(
      'SELECT user_id, properties FROM events WHERE event_id = $1',
      [id],
    );
    expect(rows).toEqual([{ user_id: 'first', properties: { n: 1 } }]);
  });

  it('first write wins across batches', async () => {
    const id = randomUUID();
    await post([event({ event_id: id, event_type: 'original' })]);
    const res = await post([event({ event_id: id, event_type: 'changed' }), event()]);
    expect(res.json()).toEqual({ accepted: 1, skipped: 1 });
    const { rows } = await database.pool.query(
      'SELECT event_type FROM events WHERE event_id = $1',
      [id],
    );
    expect(rows[0].event_type).toBe('original');
  });

  it('normalises: trims user_id/event_type, lowercases event_id, stores offsets as UTC, null properties as {}', async () => {
    const id = randomUUID().toUpperCase();
    await post([
      {
        event_id: id,
        occurred_at: '2025-10-19T01:30:00+03:00',
        user_id: '  u7 ',
        event_type: ' buy ',
        properties: null,
      },
      { ...event(), occurred_at: '2025-10-19T10:00:00', properties: undefined },
    ]);
    const { rows } = await database.pool.query(
      `SELECT event_id::text, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') AS at, user_id, event_type, properties
       FROM events ORDER BY occurred_at`,
    );
    expect(rows[0]).toEqual({
      event_id: id.toLowerCase(),
      at: '2025-10-18T22:30:00',
      user_id: 'u7',
      event_type: 'buy',
      properties: {},
    });
    expect(rows[1]).toMatchObject({ at: '2025-10-19T10:00:00', properties: {} });
  });

  it('keeps microseconds', async () => {
    await post([event({ occurred_at: '2025-10-19T10:00:00.123456Z' })]);
    const { rows } = await database.pool.query(
      `SELECT extract(microseconds FROM occurred_at)::int AS us FROM events`,
    );
    expect(rows[0].us).toBe(123456);
  });

  it('lists every invalid event by index and stores nothing from the batch', async () => {
    const future = new Date(Date.now() + 25 * 3600 * 1000).toISOString();
    const batch: unknown[] = [
      event(),
      event({ event_id: 'not-a-uuid' }),
      event({ user_id: '   ' }),
      {
        event_id: randomUUID(),
        occurred_at: '2025-02-30T10:00:00Z',
        user_id: 'u',
        event_type: 't',
      },
      event({ occurred_at: future }),
      event({ properties: [1, 2] as unknown as Record<string, unknown> }),
      event({ event_type: 'x'.repeat(129) }),
      { ...event(), extra: 1 },
      { event_id: randomUUID() },
      'not an object',
      event({ occurred_at: '19/10/2025' }),
      event({ user_id: 42 as unknown as string }),
      event({ properties: { big: 'x'.repeat(33 * 1024) } }),
      event({ properties: { nul: 'a\u0000b' } }),
    ];
    const res = await app.inject({
      method: 'POST',
      url: '/events',
      payload: batch as object,
      headers: {},
    });
    expect(res.statusCode).toBe(422);
    const body = res.json();
    expect(body.error).toBe('validation_error');
    expect(body.message).toBe('13 of 14 events are invalid; nothing was stored');
    const byIndex = (i: number) => body.details.filter((d: { index: number }) => d.index === i);
    expect(byIndex(0)).toEqual([]);
    expect(byIndex(1)).toEqual([
      { index: 1, field: 'event_id', message: expect.stringContaining('UUID') },
    ]);
    expect(byIndex(2)).toEqual([
      { index: 2, field: 'user_id', message: 'must not be empty or blank' },
    ]);
    expect(byIndex(3)).toEqual([
      { index: 3, field: 'occurred_at', message: 'has an impossible date 2025-02-30' },
    ]);
    expect(byIndex(4)).toEqual([
      { index: 4, field: 'occurred_at', message: 'is more than 24 hours in the future' },
    ]);
    expect(byIndex(5)).toEqual([
      { index: 5, field: 'properties', message: 'must be a JSON object (or null)' },
    ]);
    expect(byIndex(6)).toEqual([
      { index: 6, field: 'event_type', message: 'must be at most 128 characters' },
    ]);
    expect(byIndex(7)[0]).toMatchObject({
      field: 'extra',
      message: expect.stringContaining('not a known field'),
    });
    expect(byIndex(8).map((d: { field: string }) => d.field)).toEqual([
      'occurred_at',
      'user_id',
      'event_type',
    ]);
    expect(byIndex(9)).toEqual([{ index: 9, field: '', message: 'must be a JSON object' }]);
    expect(byIndex(10)[0]).toMatchObject({
      field: 'occurred_at',
      message: expect.stringContaining('ISO 8601'),
    });
    expect(byIndex(11)).toEqual([{ index: 11, field: 'user_id', message: 'must be a string' }]);
    expect(byIndex(12)[0]).toMatchObject({
      field: 'properties',
      message: expect.stringContaining('32768 bytes'),
    });
    expect(byIndex(13)[0]).toMatchObject({
      field: 'properties',
      message: expect.stringContaining('NUL'),
    });
    expect(await storedCount()).toBe(0);
  });

  it('accepts an event up to 24 h in the future', async () => {
    const soon = new Date(Date.now() + 23 * 3600 * 1000).toISOString();
    expect((await post([event({ occurred_at: soon })])).statusCode).toBe(202);
  });

  it('rejects a body that is not an array, an empty array and malformed JSON', async () => {
    const notArray = await post(event());
    expect(notArray.statusCode).toBe(422);
    expect(notArray.json()).toMatchObject({
      error: 'validation_error',
      details: [{ field: 'body' }],
    });

    const empty = await post([]);
    expect(empty.statusCode).toBe(422);
    expect(empty.json().message).toBe('the batch is empty');

    const malformed = await app.inject({
      method: 'POST',
      url: '/events',
      headers: { 'content-type': 'application/json' },
      payload: '[{"event_id": ',
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json()).toMatchObject({ error: 'invalid_json' });

    const wrongType = await app.inject({
      method: 'POST',
      url: '/events',
      headers: { 'content-type': 'text/plain' },
      payload: 'hello',
    });
    expect(wrongType.statusCode).toBe(415);
    expect(wrongType.json().error).toBe('unsupported_media_type');
    expect(await storedCount()).toBe(0);
  });

  it('answers 413 over MAX_BATCH_EVENTS and over MAX_BODY_BYTES, storing nothing', async () => {
    const tooMany = await post(Array.from({ length: 51 }, () => event()));
    expect(tooMany.statusCode).toBe(413);
    expect(tooMany.json()).toMatchObject({
      error: 'payload_too_large',
      message: expect.stringContaining('limit is 50'),
    });

    const atLimit = await post(Array.from({ length: 50 }, () => event()));
    expect(atLimit.statusCode).toBe(202);
    await database.pool.query('TRUNCATE events');

    const big = await post([
      event({ properties: { pad: 'x'.repeat(30 * 1024) } }),
      event({ properties: { pad: 'y'.repeat(30 * 1024) } }),
      event({ properties: { pad: 'z'.repeat(30 * 1024) } }),
    ]);
    expect(big.statusCode).toBe(413);
    expect(big.json().error).toBe('payload_too_large');
    expect(await storedCount()).toBe(0);
  });

  it('writes a batch of 5000 events in one SQL statement (once the project is known)', async () => {
    const statements: string[] = [];
    const db = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: database.pool }),
      log: (e) => {
        statements.push(e.query.sql);
      },
    });
    const counted = await buildTestApp({ db, pool: database.pool }, { maxBatchEvents: 5000 });
    // The first request of a project looks the project up (then it is cached).
    await counted.app.inject({ method: 'POST', url: '/events', payload: [event()] });
    statements.length = 0;
    const res = await counted.app.inject({
      method: 'POST',
      url: '/events',
      payload: Array.from({ length: 5000 }, () => event()),
    });
    expect(res.json()).toEqual({ accepted: 5000, skipped: 0 });
    expect(statements).toHaveLength(1);
    expect(statements[0]).toContain('ingest_events(');
    await counted.app.close();
  });

  it('stores each event once under concurrent overlapping batches, without deadlock', async () => {
    const pool: TestEvent[] = Array.from({ length: 400 }, (_, i) =>
      event({
        user_id: `u${i % 37}`,
        event_type: `t${i % 5}`,
        occurred_at: `2025-10-${String(10 + (i % 9)).padStart(2, '0')}T0${i % 10}:00:00Z`,
      }),
    );
    // 8 batches of 50 random picks each, in random order: heavy overlap in events and users.
    const batches = Array.from({ length: 8 }, () =>
      Array.from({ length: 50 }, () => pool[Math.floor(Math.random() * pool.length)] as TestEvent),
    );
    const results = await Promise.all(batches.map((b) => post(b)));
    for (const r of results) expect(r.statusCode).toBe(202);
    const totals = results.map((r) => r.json() as { accepted: number; skipped: number });
    const distinct = new Set(batches.flat().map((e) => e.event_id)).size;
    expect(totals.reduce((s, t) => s + t.accepted, 0)).toBe(distinct);
    expect(totals.reduce((s, t) => s + t.accepted + t.skipped, 0)).toBe(400);
    expect(await storedCount()).toBe(distinct);
  });
});
