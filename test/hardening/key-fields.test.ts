import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import {
  amplitudeEvent,
  bearer,
  createKeys,
  ids,
  posthogEvent,
  segmentMessage,
} from '../helpers/ingest-requests.js';
import { emptyTables } from '../helpers/summaries.js';

/**
 * Issue 19, finding 9: a PostHog `properties.token` (posthog-js puts its key there) was
 * stored verbatim, even when it was a key. The key fields each SDK puts in its payload are
 * never stored.
 */

let database: TestDatabase;
let keys: Record<string, string>;
beforeAll(async () => {
  database = await createTestDatabase();
  keys = await createKeys(database.db, { writer: 'write', reader: 'read' });
});
afterAll(async () => {
  await database.close();
});
beforeEach(async () => {
  await emptyTables(database.pool);
});

async function storedText(): Promise<string> {
  const { rows } = await database.pool.query('SELECT properties::text AS p FROM events');
  expect(rows.length).toBeGreaterThan(0);
  return rows.map((r) => r.p).join('\n');
}

describe.each(['required', 'off'] as const)(
  'AUTH=%s: key fields are never stored (finding 9)',
  (auth) => {
    let app: FastifyInstance;
    beforeAll(async () => {
      ({ app } = await buildTestApp(database, { auth }));
    });
    afterAll(async () => {
      await app.close();
    });
    const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
      app.inject({
        method: 'POST',
        url,
        payload: JSON.stringify(payload),
        headers: { 'content-type': 'application/json', ...headers },
      });

    it('posthog-js: properties.token (the write key) in every event', async () => {
      const key = keys.writer as string;
      const events = ids(3).map((id) =>
        posthogEvent(id, { properties: { token: key, plan: 'pro' } }),
      );
      const res = await post('/e/', events);
      expect(res.statusCode, res.body).toBe(200);
      const text = await storedText();
      expect(text).not.toContain(key);
      expect(text).not.toContain('"token"');
      expect(text).toContain('"plan": "pro"');
    });

    it('a read key sent as properties.token beside a write key in a header', async () => {
      const res = await post(
        '/batch/',
        { batch: ids(2).map((id) => posthogEvent(id, { properties: { token: keys.reader } })) },
        bearer(keys.writer as string),
      );
      expect(res.statusCode, res.body).toBe(200);
      expect(await storedText()).not.toContain(keys.reader as string);
    });

    it('every place each SDK puts its key: envelope, event, properties', async () => {
      const key = keys.writer as string;
      const sends = [
        post('/v1/batch', {
          writeKey: key,
          batch: ids(1).map((id) => ({ ...segmentMessage(id), writeKey: key })),
        }),
        post('/v1/track', { ...segmentMessage(ids(1)[0] as string), writeKey: key }),
        post('/batch/', {
          api_key: key,
          batch: ids(1).map((id) =>
            posthogEvent(id, { api_key: key, token: key, properties: { token: key } }),
          ),
        }),
        post(
          '/capture/',
          posthogEvent(ids(1)[0] as string, { token: key, properties: { token: key } }),
        ),
        post('/2/httpapi', { api_key: key, events: ids(1).map((id) => amplitudeEvent(id)) }),
      ];
      for (const res of await Promise.all(sends)) expect(res.statusCode, res.body).toBe(200);
      const { rows } = await database.pool.query('SELECT count(*)::int AS n FROM events');
      expect(rows[0].n).toBe(5);
      expect(await storedText()).not.toContain(key);
    });
  },
);
