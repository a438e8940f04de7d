/**
 * Request bodies for bench:clients, each with events never sent before. Event ids are
 * UUIDs built from (run, case, counter), so after a case the stored rows can be read
 * back by id range and matched one by one with what the server acknowledged.
 */
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';

const EVENT_TYPES = ['view', 'click', 'search', 'add_to_cart', 'purchase', 'signup', 'share'];
const USERS = 20_000;

const SPACE = 1n << 48n;
/** Odd, so multiplying by it permutes the 48-bit counters; its inverse decodes them. */
const SCRAMBLE = 0x5deece66dn;
const UNSCRAMBLE = inverse(SCRAMBLE);

function inverse(odd: bigint): bigint {
  // Newton's iteration for the inverse modulo 2^48: each step doubles the correct bits.
  let x = odd;
  for (let i = 0; i < 6; i++) x = (x * (2n - odd * x)) % SPACE;
  return (x + SPACE) % SPACE;
}

/**
 * The event ids of one case: `<run>-<case>-4xxx-8xxx-<scrambled counter>`. The counter is
 * scrambled so ids look as random as real UUIDs do (the server's JSON parser has a fast path
 * whose choice depends on the text: sequential ids would take it more often than real
 * clients' ids) and decoded back when the stored rows are checked.
 */
export class IdSpace {
  private next = 0;

  /** Random hex of `digits` digits without an `e` and 3 digits (see above): those would make every id risky. */
  static tag(digits: number): string {
    for (;;) {
      const tag = randomBytes(digits).toString('hex').slice(0, digits);
      if (!/e[0-9]{3}/.test(tag)) return tag;
    }
  }

  constructor(
    /** 8 hex digits, random for each bench run. */
    readonly run: string,
    /** 4 hex digits, one per case and repetition. */
    readonly kase: string,
  ) {}

  /** Reserves `n` consecutive counters; returns the first. */
  take(n: number): number {
    const first = this.next;
    this.next += n;
    return first;
  }

  get allocated(): number {
    return this.next;
  }

  id(counter: number): string {
    const hex = ((BigInt(counter) * SCRAMBLE) % SPACE).toString(16).padStart(12, '0');
    const tail = ((Math.imul(counter, 0x9e3779) >>> 0) % 0x1000000).toString(16).padStart(6, '0');
    return `${this.run}-${this.kase}-4${hex.slice(0, 3)}-8${hex.slice(3, 6)}-${hex.slice(6)}${tail}`;
  }

  counterOf(id: string): number {
    const hex = `${id.slice(15, 18)}${id.slice(20, 23)}${id.slice(24, 30)}`;
    return Number((BigInt(`0x${hex}`) * UNSCRAMBLE) % SPACE);
  }

  /** Inclusive bounds of the case's ids, for `WHERE event_id BETWEEN`. */
  get bounds(): [string, string] {
    const prefix = `${this.run}-${this.kase}-`;
    return [`${prefix}0000-0000-000000000000`, `${prefix}ffff-ffff-ffffffffffff`];
  }
}

export interface BenchRequest {
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  /** First id counter in the body; the body holds `events` consecutive ones. */
  first: number;
  events: number;
}

/** Builds the next request of a case; called once per request, so every body is new. */
export type RequestFactory = () => BenchRequest;

/** Live traffic: events happened in the last few seconds (so summaries hit today's rows). */
function recentIso(now: number, counter: number): string {
  return new Date(now - (counter % 5000)).toISOString();
}

function userOf(counter: number): string {
  // A multiplicative hash spreads consecutive counters over the users.
  return `user_${(counter * 2_654_435_761) % USERS}`;
}

function typeOf(counter: number): string {
  return EVENT_TYPES[counter % EVENT_TYPES.length] as string;
}

/** (a) `POST /events` with one event, in our own shape. */
export function oneEvent(ids: IdSpace): RequestFactory {
  const headers = { 'content-type': 'application/json' };
  return () => {
    const n = ids.take(1);
    const body = JSON.stringify([
      {
        event_id: ids.id(n),
        occurred_at: recentIso(Date.now(), n),
        user_id: userOf(n),
        event_type: typeOf(n),
        properties: { path: '/pricing', referrer: 'https://example.com/', n },
      },
    ]);
    return { path: '/events', headers, body: Buffer.from(body), first: n, events: 1 };
  };
}

const SEGMENT_CONTEXT = {
  ip: '203.0.113.7',
  userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
  locale: 'en-US',
  library: { name: '@segment/analytics-node', version: '3.1.0' },
};
const SEGMENT_METADATA = { nodeVersion: 'v20.20.2', jsRuntime: 'node' };

/**
 * (b) `POST /v1/batch` as @segment/analytics-node sends it (shared/fixtures/sdk/segment.json):
 * Basic auth with the write key, `writeKey` and `sentAt` in the envelope, `messageId` per
 * message. Each batch holds one identify, one page and tracks.
 */
export function segmentBatch(ids: IdSpace, size: number, writeKey: string): RequestFactory {
  const headers = {
    'content-type': 'application/json',
    authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
    'user-agent': 'analytics-node-next/latest',
  };
  return () => {
    const first = ids.take(size);
    const now = Date.now();
    const batch = Array.from({ length: size }, (_, i) => {
      const n = first + i;
      const common = {
        timestamp: recentIso(now, n),
        integrations: {},
        context: SEGMENT_CONTEXT,
        userId: userOf(n),
        anonymousId: `anon_${n % 50_000}`,
        messageId: ids.id(n),
        _metadata: SEGMENT_METADATA,
      };
      if (i === 0) return { ...common, type: 'identify', traits: { plan: 'pro', logins: n % 7 } };
      if (i === 1)
        return {
          ...common,
          type: 'page',
          name: 'Pricing',
          properties: { url: 'https://example.com/pricing', path: '/pricing' },
        };
      return {
        ...common,
        type: 'track',
        event: typeOf(n),
        properties: { order_id: `o-${n}`, revenue: 12.5, currency: 'USD' },
      };
    });
    const body = JSON.stringify({ batch, writeKey, sentAt: new Date(now).toISOString() });
    return { path: '/v1/batch', headers, body: Buffer.from(body), first, events: size };
  };
}

/**
 * (c) `POST /batch/` as posthog-node sends it (shared/fixtures/sdk/posthog.json): gzip,
 * `api_key` and `sent_at` in the envelope, `uuid` per event.
 */
export function posthogBatch(ids: IdSpace, size: number, apiKey: string): RequestFactory {
  const headers = {
    'content-type': 'application/json',
    'content-encoding': 'gzip',
    'user-agent': 'posthog-node/5.70.0',
  };
  return () => {
    const first = ids.take(size);
    const now = Date.now();
    const batch = Array.from({ length: size }, (_, i) => {
      const n = first + i;
      return {
        event: i === 0 ? '$pageview' : typeOf(n),
        properties: {
          $current_url: 'https://example.com/pricing',
          plan: 'pro',
          n,
          $lib: 'posthog-node',
          $lib_version: '5.70.0',
          $is_server: true,
          $geoip_disable: true,
        },
        timestamp: recentIso(now, n),
        uuid: ids.id(n),
        distinct_id: userOf(n),
      };
    });
    const json = JSON.stringify({
      api_key: apiKey,
      batch,
      sent_at: new Date(now).toISOString(),
    });
    // Level 1: the generator shares 2 cores with the server, and level 6 buys nothing here.
    const body = gzipSync(json, { level: 1 });
    return { path: '/batch/', headers, body, first, events: size };
  };
}
