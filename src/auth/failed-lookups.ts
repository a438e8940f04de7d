import { isIPv4 } from 'node:net';
import { LRUCache } from 'lru-cache';
import { ApiError } from '../errors.js';

export interface FailedLookupOptions {
  /** Look-ups of unknown keys a client address may cause per minute (and at once, after a pause). */
  perMinute: number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * The address a client is counted under: an IPv4 address as it is (IPv4-mapped IPv6 too),
 * an IPv6 address by its /64 prefix, since one host or home network holds a whole /64 and
 * could otherwise take a fresh address per request.
 */
export function clientAddressKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1]) return mapped[1];
  if (isIPv4(ip) || !ip.includes(':')) return ip;
  const [head = '', tail = ''] = ip.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = ip.includes('::')
    ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/**
 * Bounds what guessing keys costs: each look-up of a key that is not in the key cache is a
 * database query, so a client address may cause at most `perMinute` such look-ups that find
 * no key, refilled evenly over the minute. A look-up reserves a token before it asks the
 * database and gets it back when the key exists, so valid keys cost nothing and concurrent
 * guesses cannot overdraw the bucket; an address with no token left is answered 429 (with
 * Retry-After) without a query. Buckets of quiet addresses are evicted (LRU), so memory
 * stays bounded whatever clients send.
 */
export class FailedLookupLimiter {
  private readonly buckets = new LRUCache<string, Bucket>({ max: 50_000 });

  constructor(
    private readonly options: FailedLookupOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Reserves a look-up for `ip`; throws a 429 when its failures used them all up. */
  reserve(ip: string): void {
    const { perMinute } = this.options;
    const key = clientAddressKey(ip);
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: perMinute, updatedMs: now };
    bucket.tokens = Math.min(
      perMinute,
      bucket.tokens + ((now - bucket.updatedMs) * perMinute) / 60_000,
    );
    bucket.updatedMs = now;
    if (bucket.tokens < 1) {
      this.buckets.set(key, bucket);
      const retryAfterS = ((1 - bucket.tokens) * 60) / perMinute;
      throw new ApiError(
        429,
        'rate_limited',
        `too many look-ups of unknown API keys from this address (at most ${perMinute} a minute); retry later`,
      ).retryAfter(retryAfterS);
    }
    bucket.tokens -= 1;
    this.buckets.set(key, bucket);
  }

  /** Gives back a reserved look-up: the key existed. */
  refund(ip: string): void {
    const bucket = this.buckets.get(clientAddressKey(ip));
    if (bucket) bucket.tokens = Math.min(this.options.perMinute, bucket.tokens + 1);
  }
}
