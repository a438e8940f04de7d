import { LRUCache } from 'lru-cache';
import { ApiError } from '../errors.js';

export interface RateLimitOptions {
  /** Sustained events per second per key (0 turns limiting off). */
  eventsPerSecond: number;
  /** Events a key may send at once after being idle. */
  burst: number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * Per-key token buckets counted in events, not requests, so one 5000-event batch and 5000
 * one-event requests cost the same. (@fastify/rate-limit counts requests in fixed windows,
 * which cannot express that; a token bucket is a few lines.) Buckets of idle keys are
 * evicted (LRU), so memory stays bounded whatever clients send.
 */
export class EventRateLimiter {
  private readonly buckets = new LRUCache<string, Bucket>({ max: 50_000 });

  constructor(
    private readonly options: RateLimitOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Takes `events` tokens from `identity`'s bucket, or throws a 429 whose `retryAfterS` says
   * when they will be there. A request larger than the burst needs a full bucket.
   */
  take(identity: string, events: number): void {
    const { eventsPerSecond, burst } = this.options;
    if (eventsPerSecond <= 0) return;
    const now = this.now();
    const bucket = this.buckets.get(identity) ?? { tokens: burst, updatedMs: now };
    bucket.tokens = Math.min(
      burst,
      bucket.tokens + ((now - bucket.updatedMs) / 1000) * eventsPerSecond,
    );
    bucket.updatedMs = now;
    const needed = Math.min(events, burst);
    if (bucket.tokens < needed) {
      this.buckets.set(identity, bucket);
      const retryAfterS = Math.max(1, Math.ceil((needed - bucket.tokens) / eventsPerSecond));
      throw new RateLimitError(retryAfterS, eventsPerSecond);
    }
    bucket.tokens -= needed;
    this.buckets.set(identity, bucket);
  }
}

/** A 429 answered with Retry-After (set by the error handler from `retryAfterS`). */
export class RateLimitError extends ApiError {
  declare retryAfterS: number;

  constructor(retryAfterS: number, eventsPerSecond: number) {
    super(
      429,
      'rate_limited',
      `rate limit of ${eventsPerSecond} events per second exceeded; retry after ${retryAfterS} s`,
    );
    this.retryAfter(retryAfterS);
  }
}
