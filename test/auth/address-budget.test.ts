import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AddressBudget, clientAddressKey } from '../../src/auth/address-budget.js';
import { KeyCache } from '../../src/auth/key-cache.js';
import { loadConfig } from '../../src/config.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { createKeys, recordingKysely } from '../helpers/ingest-requests.js';

let database: TestDatabase;
let keys: Record<string, string>;
beforeAll(async () => {
  database = await createTestDatabase();
  keys = await createKeys(database.db, { writer: 'write' });
});
afterAll(async () => {
  await database.close();
});
const guess = () => `ea_${randomBytes(32).toString('base64url')}`;

describe('AddressBudget', () => {
  it('has a documented default for failed key look-ups', () => {
    expect(loadConfig({}).authFailedLookupsPerMinute).toBe(60);
  });

  it('counts an IPv6 client by its /64, IPv4 (mapped or not) by its address', () => {
    expect(clientAddressKey('2001:db8:aa:bb::1')).toBe(clientAddressKey('2001:0DB8:aa:bb:ffff::2'));
    expect(clientAddressKey('2001:db8:aa:bc::1')).not.toBe(clientAddressKey('2001:db8:aa:bb::1'));
    expect(clientAddressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(clientAddressKey('192.0.2.1')).toBe('192.0.2.1');
  });

  it('refills the bucket over the minute and gives a valid key its token back', () => {
    let now = 0;
    const limiter = new AddressBudget({ perMinute: 2, what: 'look-ups' }, () => now);
    limiter.reserve('192.0.2.1');
    limiter.refund('192.0.2.1'); // the key existed
    limiter.reserve('192.0.2.1');
    limiter.reserve('192.0.2.1');
    expect(() => limiter.reserve('192.0.2.1')).toThrow(/at most 2 a minute/);
    now += 30_000; // one token back
    limiter.reserve('192.0.2.1');
    expect(() => limiter.reserve('192.0.2.1')).toThrow();
  });

  it('charges what is only known afterwards, below zero, and refuses until it is paid back', () => {
    let now = 0;
    const budget = new AddressBudget({ perMinute: 60, what: 'bytes' }, () => now);
    budget.check('192.0.2.1');
    budget.charge('192.0.2.1', 90); // 30 below zero
    expect(() => budget.check('192.0.2.1')).toThrow(/too many bytes/);
    now += 30_000; // +30: at zero, still spent
    expect(() => budget.check('192.0.2.1')).toThrow();
    now += 1000;
    budget.check('192.0.2.1');
  });
});

describe('KeyCache', () => {
  it('is bounded, and unknown keys cannot push valid ones out', async () => {
    const local = recordingKysely(database.pool);
    const cache = new KeyCache(local.db, 60_000, 20);
    const count = () => local.statements.filter((s) => /from api_keys/i.test(s)).length;
    expect((await cache.lookup(keys.writer as string)).key?.name).toBe('writer');
    for (let i = 0; i < 100; i++) expect((await cache.lookup(guess())).key).toBeUndefined();
    const before = count();
    expect((await cache.lookup(keys.writer as string)).key?.name).toBe('writer');
    expect(count()).toBe(before); // still cached
  });
});
