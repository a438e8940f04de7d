import type { Kysely } from 'kysely';
import { LRUCache } from 'lru-cache';
import type { Database } from '../db/schema.js';
import { type ApiKey, findKey, hashKey, markUsed } from './keys.js';

/** Keys (and, apart, unknown keys) remembered at most; the least recently used go first. */
const MAX_CACHED = 10_000;

/**
 * Answers "which key is this?" without a database round trip per request: each answer
 * (unknown keys included, so repeating a wrong key costs no queries) is kept for `ttlMs`,
 * so a revoked key stops working within that time. Concurrent look-ups of one key share
 * one query. Unknown keys are kept apart from valid ones, so a flood of guesses cannot
 * push valid keys out of the cache; both caches are bounded. `last_used_at` is written in
 * the background, at most once per flush interval.
 */
export class KeyCache {
  private readonly found: LRUCache<string, ApiKey>;
  private readonly unknown: LRUCache<string, true>;
  private readonly inFlight = new Map<string, Promise<ApiKey | undefined>>();
  private readonly used = new Set<number>();

  constructor(
    private readonly db: Kysely<Database>,
    ttlMs: number,
    maxCached = MAX_CACHED,
  ) {
    this.found = new LRUCache<string, ApiKey>({ max: maxCached, ttl: ttlMs });
    this.unknown = new LRUCache<string, true>({ max: maxCached, ttl: ttlMs });
  }

  /**
   * The key, or undefined for an unknown or revoked one. `beforeQuery` runs when the
   * answer is not cached and the database must be asked (it may throw to refuse that);
   * `queried` tells whether this call asked.
   */
  async lookup(
    key: string,
    beforeQuery: () => void = () => {},
  ): Promise<{ key: ApiKey | undefined; queried: boolean }> {
    const hash = hashKey(key).toString('hex');
    const cached = this.found.get(hash);
    if (cached) return { key: this.use(cached), queried: false };
    if (this.unknown.has(hash)) return { key: undefined, queried: false };
    let pending = this.inFlight.get(hash);
    const queried = pending === undefined;
    if (pending === undefined) {
      beforeQuery();
      pending = findKey(this.db, Buffer.from(hash, 'hex'))
        .then((found) => {
          if (found) this.found.set(hash, found);
          else this.unknown.set(hash, true);
          return found;
        })
        .finally(() => this.inFlight.delete(hash));
      this.inFlight.set(hash, pending);
    }
    const found = await pending;
    return { key: found && this.use(found), queried };
  }

  private use(key: ApiKey): ApiKey {
    this.used.add(key.id);
    return key;
  }

  /** Writes the keys used since the last flush to last_used_at. */
  async flushUsage(): Promise<void> {
    const ids = [...this.used];
    this.used.clear();
    await markUsed(this.db, ids);
  }
}
