import { isIPv4 } from 'node:net';
import { LRUCache } from 'lru-cache';
import { ApiError } from '../errors.js';

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

export interface AddressBudgetOptions {
  /** What a client address may spend per minute, and at once after a pause. */
  perMinute: number;
  /** The 429's message: what was spent, e.g. "look-ups of unknown API keys". */
  what: string;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * A budget per client address (a token bucket refilled evenly over the minute) for work
 * that unauthenticated clients can make the service do. `reserve` takes from it before
 * the work (429 when it is spent), `refund` gives back what turned out not to count,
 * `charge` takes what is only known afterwards (a budget may then go below zero, and the
 * address waits until it is paid back), `check` refuses an address whose budget is spent.
 * Buckets of quiet addresses are evicted (LRU), so memory stays bounded whatever clients
 * send.
 */
export class AddressBudget {
  private readonly buckets = new LRUCache<string, Bucket>({ max: 50_000 });

  constructor(
    private readonly options: AddressBudgetOptions,
    private readonly now: () => number = Date.now,
  ) {}

  private bucket(ip: string): Bucket {
    const { perMinute } = this.options;
    const key = clientAddressKey(ip);
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: perMinute, updatedMs: now };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(
      perMinute,
      bucket.tokens + ((now - bucket.updatedMs) * perMinute) / 60_000,
    );
    bucket.updatedMs = now;
    return bucket;
  }

  private refusal(bucket: Bucket, needed: number): ApiError {
    const { perMinute, what } = this.options;
    const retryAfterS = ((needed - bucket.tokens) * 60) / perMinute;
    return new ApiError(
      429,
      'rate_limited',
      `too many ${what} from this address (at most ${perMinute} a minute); retry later`,
    ).retryAfter(retryAfterS);
  }

  /** Throws a 429 (with Retry-After) when the address's budget is spent. */
  check(ip: string): void {
    const bucket = this.bucket(ip);
    if (bucket.tokens <= 0) throw this.refusal(bucket, 1);
  }

  /** Takes `amount` before the work; throws a 429 when the address has not that much left. */
  reserve(ip: string, amount = 1): void {
    const bucket = this.bucket(ip);
    if (bucket.tokens < amount) throw this.refusal(bucket, amount);
    bucket.tokens -= amount;
  }

  /** Gives back what was reserved and turned out not to count. */
  refund(ip: string, amount = 1): void {
    const bucket = this.bucket(ip);
    bucket.tokens = Math.min(this.options.perMinute, bucket.tokens + amount);
  }

  /** Takes `amount` after the work, even below zero. */
  charge(ip: string, amount: number): void {
    this.bucket(ip).tokens -= amount;
  }
}
