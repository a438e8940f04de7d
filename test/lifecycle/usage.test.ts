import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toStore, writeEvents } from '../../src/ingest/write-events.js';
import { maintainOnce } from '../../src/lifecycle/maintenance.js';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { bearer, newKey } from '../helpers/ingest-requests.js';
import { createProjectRow } from '../helpers/summaries.js';

/** GET /projects/{slug}/usage: what a project's data takes, and what retention changes. */
let database: TestDatabase;
let app: FastifyInstance;
let admin: string;
let bigAdmin: string;
let reader: string;
const DAY = 86_400_000;
const MONDAY = Date.UTC(2025, 0, 6);

function events(prefix: string, weeks: number, perWeek: number) {
  const out = [];
  for (let w = 0; w < weeks; w++) {
    for (let i = 0; i < perWeek; i++) {
      out.push({
        event_id: `${prefix}${String(w).padStart(3, '0')}0000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        occurred_at: new Date(MONDAY + w * 7 * DAY + (i % 6) * DAY + 3_600_000).toISOString(),
        user_id: `u${i % 40}`,
        event_type: `t${i % 5}`,
        properties: JSON.stringify({ i, text: 'x'.repeat(50) }),
      });
    }
  }
  return out;
}

beforeAll(async () => {
  database = await createTestDatabase();
  const big = await createProjectRow(database.pool, 'big', ['Europe/Kyiv']);
  const small = await createProjectRow(database.pool, 'small');
  await writeEvents(database.db, toStore(big, 'events', events('1', 3, 400)));
  await writeEvents(database.db, toStore(small, 'events', events('2', 1, 50)));
  await database.pool.query('ANALYZE');
  admin = await newKey(database.db, 'ops', 'admin');
  reader = await newKey(database.db, 'reader', 'read');
  bigAdmin = await newKey(database.db, 'big-admin', 'admin', big);
  ({ app } = await buildTestApp(database, { auth: 'required' }, { keyCacheTtlMs: 50 }));
});
afterAll(async () => {
  await app?.close();
  await database?.close();
});

const usage = (slug: string, key = admin) =>
  app.inject({ url: `/projects/${slug}/usage`, headers: bearer(key) });

describe('GET /projects/{slug}/usage', () => {
  it('answers events, bytes, the oldest raw day and the partitions holding the project’s events', async () => {
    const res = await usage('big');
    expect(res.statusCode, res.body).toBe(200);
    const big = res.json();
    expect(big).toMatchObject({
      slug: 'big',
      raw_retention_days: null,
      events: 1200,
      oldest_raw_day: '2025-01-06',
      raw_events_from: null,
      partitions: ['events_w20250106', 'events_w20250113', 'events_w20250120'],
    });
    expect(big.partitions_total).toBeGreaterThanOrEqual(3);
    for (const field of ['raw_bytes', 'summary_bytes', 'dedup_bytes']) {
      expect(big[field], field).toBeGreaterThan(0);
    }
    const small = (await usage('small')).json();
    expect(small).toMatchObject({ events: 50, partitions: ['events_w20250106'] });
    expect(small.raw_bytes).toBeLessThan(big.raw_bytes);
    expect(small.dedup_bytes).toBeLessThan(big.dedup_bytes);
  });

  it('needs an admin key that manages the project: a read key is 403, another project’s admin 404', async () => {
    expect((await usage('big', reader)).statusCode).toBe(403);
    expect((await usage('small', bigAdmin)).statusCode).toBe(404);
    expect((await usage('big', bigAdmin)).statusCode).toBe(200);
    expect((await usage('nope')).statusCode).toBe(404);
  });

  it('after retention expires weeks: fewer events and partitions, raw_events_from set', async () => {
    await database.pool.query(`UPDATE projects SET raw_retention_days = 10 WHERE slug = 'big'`);
    await maintainOnce(database.pool, Date.UTC(2025, 1, 3));
    const after = (await usage('big')).json();
    expect(after).toMatchObject({
      raw_retention_days: 10,
      events: 400,
      oldest_raw_day: '2025-01-20',
      raw_events_from: '2025-01-20T00:00:00.000000Z',
      partitions: ['events_w20250120'],
    });
  });
});
