import type { Kysely } from 'kysely';
import { LRUCache } from 'lru-cache';
import type { Database } from '../db/schema.js';
import { type ApiKey, findKey, hashKey, markUsed } from './keys.js';

type Lookup = { key: ApiKey } | { key: undefined };

/**
 * Answers "which key is this?" without a database round trip per request: each answer
 * (unknown keys included, so guessing costs no queries) is kept for `ttlMs`, so a revoked
 * key stops working within that time. Concurrent look-ups of one key share one query.
 * `last_used_at` is written in the background, at most once per flush interval.
 */
export class KeyCache {
  private readonly cache: LRUCache<string, Lookup>;
  private readonly used = new Set<number>();

  constructor(
    private readonly db: Kysely<Database>,
    ttlMs: number,
  ) {
    this.cache = new LRUCache<string, Lookup>({
      max: 10_000,
      ttl: ttlMs,
      fetchMethod: async (hash) => ({ key: await findKey(db, Buffer.from(hash, 'hex')) }),
    });
  }

  async lookup(key: string): Promise<ApiKey | undefined> {
    const found = (await this.cache.fetch(hashKey(key).toString('hex')))?.key;
    if (found) this.used.add(found.id);
    return found;
  }

  /** Writes the keys used since the last flush to last_used_at. */
  async flushUsage(): Promise<void> {
    const ids = [...this.used];
    this.used.clear();
    await markUsed(this.db, ids);
  }
}
