import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { bearer, createKeys, recordingKysely } from '../helpers/ingest-requests.js';

/**
 * Issue 19, finding 6: each random key cost a database query (48 clients: 20,235
 * transactions in 15 s). Failed look-ups are now limited per client address before the
 * database is asked, and the key cache cannot be flooded.
 */

let database: TestDatabase;
let keys: Record<string, string>;
let app: FastifyInstance;
let recording: ReturnType<typeof recordingKysely>;

beforeAll(async () => {
  database = await createTestDatabase();
  keys = await createKeys(database.db, { writer: 'write', reader: 'read', later: 'write' });
  recording = recordingKysely(database.pool);
  ({ app } = await buildTestApp(
    { db: recording.db, pool: database.pool },
    { auth: 'required' },
    { keyCacheTtlMs: 60_000 },
  ));
});
afterAll(async () => {
  await app.close();
  await database.close();
});

const lookups = () =>
  recording.statements.filter((s) => /from api_keys where key_hash/i.test(s)).length;
const guess = () => `ea_${randomBytes(32).toString('base64url')}`;
const stats = (key: string, remoteAddress = '127.0.0.1') =>
  app.inject({
    method: 'GET',
    url: '/stats/dau?from=2025-10-01&to=2025-10-02',
    headers: bearer(key),
    remoteAddress,
  });

describe('guessing keys (finding 6)', () => {
  it('costs at most AUTH_FAILED_LOOKUPS_PER_MINUTE queries per address; then 429 without a query', async () => {
    // A valid key used before the guessing is cached: it keeps working throughout.
    expect((await stats(keys.reader as string, '192.0.2.10')).statusCode).toBe(200);
    const before = lookups();
    const started = Date.now();
    // 60 at once, then one a second as the budget refills.
    const allowed = () => 61 + Math.ceil((Date.now() - started) / 1000);
    const statuses: number[] = [];
    for (let i = 0; i < 300; i++) {
      const res = await stats(guess(), '192.0.2.10');
      statuses.push(res.statusCode);
      if (res.statusCode === 429) {
        expect(res.json().error).toBe('rate_limited');
        expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      }
    }
    // Before: 300 queries, 300 answers 401.
    expect(lookups() - before).toBeLessThanOrEqual(allowed());
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(allowed());
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(300 - allowed());
    // Concurrent guesses cannot overdraw the address's look-ups either.
    const burst = await Promise.all(Array.from({ length: 50 }, () => stats(guess(), '192.0.2.10')));
    expect(burst.filter((r) => r.statusCode !== 429).length).toBeLessThanOrEqual(
      allowed() - (lookups() - before) + 2,
    );
    expect(lookups() - before).toBeLessThanOrEqual(allowed());

    expect((await stats(keys.reader as string, '192.0.2.10')).statusCode).toBe(200);
    // Another address is not held back: its first look-up of a valid key works.
    expect((await stats(keys.reader as string, '192.0.2.11')).statusCode).toBe(200);
    const other = await app.inject({
      method: 'POST',
      url: '/events',
      headers: bearer(keys.later as string),
      payload: [],
      remoteAddress: '198.51.100.7',
    });
    expect(other.statusCode).toBe(422); // authorised (then the empty batch is refused)
  });

  it('counts an IPv6 client by its /64, so fresh addresses do not buy fresh guesses', async () => {
    const statuses: number[] = [];
    const started = Date.now();
    for (let i = 0; i < 100; i++) {
      const res = await stats(guess(), `2001:db8:aa:bb::${(i + 1).toString(16)}`);
      statuses.push(res.statusCode);
    }
    const allowed = 61 + Math.ceil((Date.now() - started) / 1000);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(allowed);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(100 - allowed);
  });
});
