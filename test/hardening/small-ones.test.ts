import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { event } from '../helpers/events.js';
import { amplitudeEvent, createKeys, post, segmentMessage } from '../helpers/ingest-requests.js';
import { emptyTables } from '../helpers/summaries.js';

/**
 * Issue 19, finding 10 (the small ones; one id for " X" and "X" is in sdk-ids.test.ts).
 */

let database: TestDatabase;
let app: FastifyInstance;
let secured: FastifyInstance;
let keys: Record<string, string>;
beforeAll(async () => {
  database = await createTestDatabase();
  keys = await createKeys(database.db, { writer: 'write' });
  ({ app } = await buildTestApp(database));
  ({ app: secured } = await buildTestApp(database, { auth: 'required' }));
});
afterAll(async () => {
  await app.close();
  await secured.close();
  await database.close();
});
beforeEach(async () => {
  await emptyTables(database.pool);
});

describe('small ones (finding 10)', () => {
  it("a static file refused with 403 says `forbidden`, in the API's shape", async () => {
    const res = await app.inject('/assets/a%00b');
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({ error: 'forbidden', message: expect.any(String) });
  });

  it.each([`Bearer KEY junk`, 'Bearer', 'Bearer  ', 'Basic a b', 'Basic !!!'])(
    'Authorization: %s is a 401, never a key taken in part',
    async (header) => {
      const key = keys.writer as string;
      const res = await secured.inject({
        method: 'POST',
        url: '/events',
        headers: { authorization: header.replace('KEY', key) },
        payload: [event()],
      });
      expect(res.statusCode, res.body).toBe(401);
      expect(res.json().error).toBe('unauthorized');
      // Also where the key may be in the body instead.
      const sdk = await secured.inject({
        method: 'POST',
        url: '/v1/batch',
        headers: { authorization: header.replace('KEY', key) },
        payload: { writeKey: key, batch: [segmentMessage(randomUUID())] },
      });
      expect(sdk.statusCode, sdk.body).toBe(401);
      const { rows } = await database.pool.query('SELECT count(*)::int AS n FROM events');
      expect(rows[0].n).toBe(0);
    },
  );

  it('a 422 for an unknown tz echoes a short prefix of it, not all of it', async () => {
    const tz = `Mars/${'x'.repeat(5000)}`;
    const res = await app.inject(`/stats/dau?from=2025-10-01&to=2025-10-02&tz=${tz}`);
    expect(res.statusCode).toBe(422);
    expect(res.json().message).toContain('unknown time zone "Mars/xxx');
    expect(res.body.length).toBeLessThan(400);
  });

  it.each(['+15:59', '-15:00', '+14:01', '-1401'])(
    'a UTC offset %s (beyond ±14:00) is a 422; ±14:00 is taken',
    async (offset) => {
      const bad = await post(app, '/events', [
        event({ occurred_at: `2025-10-19T10:00:00${offset}` }),
      ]);
      expect(bad.statusCode).toBe(422);
      expect(bad.json().details[0]).toMatchObject({
        field: 'occurred_at',
        message: expect.stringContaining('UTC offset'),
      });
      // In an SDK batch: that message is skipped, the others stored.
      const sdk = await post(app, '/v1/batch', {
        batch: [
          segmentMessage('ok-1', { timestamp: '2025-10-19T10:00:00+14:00' }),
          segmentMessage('bad-1', { timestamp: `2025-10-19T10:00:00${offset}` }),
          segmentMessage('ok-2', { timestamp: '2025-10-19T10:00:00-14:00' }),
        ],
      });
      expect(sdk.statusCode).toBe(200);
      const { rows } = await database.pool.query('SELECT occurred_at FROM events ORDER BY 1');
      expect(rows.map((r) => r.occurred_at.toISOString())).toEqual([
        '2025-10-18T20:00:00.000Z',
        '2025-10-20T00:00:00.000Z',
      ]);
    },
  );

  it("Amplitude's events_ingested counts what was stored, not duplicates", async () => {
    const events = [amplitudeEvent('ins-1'), amplitudeEvent('ins-2')];
    const first = await post(app, '/2/httpapi', { events });
    expect(first.json().events_ingested).toBe(2);
    const again = await post(app, '/2/httpapi', { events: [...events, amplitudeEvent('ins-3')] });
    expect(again.json().events_ingested).toBe(1);
  });
});
