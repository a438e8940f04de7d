import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { metricValue } from '../helpers/ingest-requests.js';
import { emptyTables } from '../helpers/summaries.js';

/**
 * Issue 19, finding 3 (a lone surrogate in an SDK id failed the whole batch with a 500:
 * URIError from the UUIDv5 derivation) and the id half of finding 10 (" X" and "X" were
 * two events, while UUIDs were trimmed).
 */

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
beforeEach(async () => {
  await emptyTables(database.pool);
});

/** A JSON string literal as written, so `\\ud83d` reaches the server as an escape. */
const raw = (text: string) => `"${text}"`;

const FAMILIES = [
  {
    source: 'segment',
    url: '/v1/batch',
    body: (messages: string[]) => `{"batch":[${messages.join(',')}]}`,
    message: (id: string, user = raw('u')) =>
      `{"type":"track","event":"ok","userId":${user},"messageId":${id}}`,
  },
  {
    source: 'posthog',
    url: '/batch/',
    body: (messages: string[]) => `{"batch":[${messages.join(',')}]}`,
    message: (id: string, user = raw('u')) => `{"event":"ok","distinct_id":${user},"uuid":${id}}`,
  },
  {
    source: 'amplitude',
    url: '/2/httpapi',
    body: (messages: string[]) => `{"events":[${messages.join(',')}]}`,
    message: (id: string, user = raw('u')) =>
      `{"event_type":"ok","user_id":${user},"insert_id":${id}}`,
  },
];

const post = (url: string, payload: string) =>
  app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });

async function stored(): Promise<number> {
  const { rows } = await database.pool.query('SELECT count(*)::int AS n FROM events');
  return rows[0].n;
}

describe('a lone surrogate in an SDK id (finding 3)', () => {
  it.each(FAMILIES)(
    '$source: that message is skipped with a reason, the rest stored',
    async (f) => {
      const series = (reason: string) =>
        `events_ingest_rejected_total{source="${f.source}",reason="${reason}"}`;
      const before = {
        id: await metricValue(app, series('event_id')),
        user: await metricValue(app, series('user_id')),
      };
      const res = await post(
        f.url,
        f.body([
          f.message(raw('ok-1')),
          f.message(raw('\\ud83d')),
          f.message(raw('x\\udc00y')),
          f.message(raw('ok-2'), raw('user\\ud800')),
          f.message(raw('ok-3')),
        ]),
      );
      expect(res.statusCode, res.body).toBe(200);
      expect(await stored()).toBe(2);
      expect(await metricValue(app, series('event_id'))).toBe(before.id + 2);
      expect(await metricValue(app, series('user_id'))).toBe(before.user + 1);
    },
  );
});

describe('one trimming rule for every id (finding 10)', () => {
  it.each(FAMILIES)('$source: " X", "X " and "X" are one event', async (f) => {
    for (const id of ['X', ' X', 'X ', '\\tX\\n']) {
      const res = await post(f.url, f.body([f.message(raw(id))]));
      expect(res.statusCode, res.body).toBe(200);
    }
    expect(await stored()).toBe(1);
  });

  it('a padded UUID is the same event as the bare one, as before', async () => {
    const uuid = '6d1d4fae-7dec-11d0-a765-00a0c91e6bf6';
    for (const id of [uuid, ` ${uuid.toUpperCase()} `]) {
      expect(
        (await post('/v1/batch', FAMILIES[0]?.body([FAMILIES[0].message(raw(id))]) ?? ''))
          .statusCode,
      ).toBe(200);
    }
    const { rows } = await database.pool.query('SELECT event_id FROM events');
    expect(rows).toEqual([{ event_id: uuid }]);
  });
});
