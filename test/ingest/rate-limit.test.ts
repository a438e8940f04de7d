import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventRateLimiter, RateLimitError } from '../../src/ingest/rate-limit.js';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import {
  amplitudeEvent,
  bearer,
  createKeys,
  INGEST_ENDPOINTS,
  ids,
  post,
  segmentMessage,
} from '../helpers/ingest-requests.js';

/** A clock the test moves by hand. */
function manualClock(startMs = 1_000_000) {
  let now = startMs;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

function refusal(run: () => void): RateLimitError | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    if (error instanceof RateLimitError) return error;
    throw error;
  }
}

describe('EventRateLimiter (token bucket in events, injected clock)', () => {
  it('gives a new identity the full burst, then refuses with the seconds until enough refill', () => {
    const clock = manualClock();
    const limiter = new EventRateLimiter({ eventsPerSecond: 10, burst: 100 }, clock.now);
    limiter.take('a', 60);
    limiter.take('a', 40);
    const error = refusal(() => limiter.take('a', 50));
    expect(error?.statusCode).toBe(429);
    expect(error?.code).toBe('rate_limited');
    expect(error?.retryAfterS).toBe(5);
    expect(error?.message).toContain('10 events per second');
    clock.advance(4900); // 49 tokens: still one short, so one more second
    expect(refusal(() => limiter.take('a', 50))?.retryAfterS).toBe(1);
    clock.advance(100);
    limiter.take('a', 50);
    expect(refusal(() => limiter.take('a', 1))?.retryAfterS).toBe(1);
  });

  it('a refused request costs nothing; Retry-After is at least 1 s', () => {
    const clock = manualClock();
    const limiter = new EventRateLimiter({ eventsPerSecond: 1000, burst: 10 }, clock.now);
    limiter.take('a', 10);
    clock.advance(2); // 2 tokens
    expect(refusal(() => limiter.take('a', 3))?.retryAfterS).toBe(1);
    limiter.take('a', 2); // the refused request did not take the 2 tokens
  });

  it('refills at the rate, never above the burst', () => {
    const clock = manualClock();
    const limiter = new EventRateLimiter({ eventsPerSecond: 2, burst: 10 }, clock.now);
    limiter.take('a', 10);
    clock.advance(3_600_000); // an hour idle refills the burst, not 7200 events
    limiter.take('a', 10);
    expect(refusal(() => limiter.take('a', 1))).toBeDefined();
  });

  it('keeps identities independent', () => {
    const clock = manualClock();
    const limiter = new EventRateLimiter({ eventsPerSecond: 1, burst: 5 }, clock.now);
    limiter.take('key:a', 5);
    expect(refusal(() => limiter.take('key:a', 1))).toBeDefined();
    limiter.take('key:b', 5);
    limiter.take('ip:10.0.0.1', 5);
  });

  it('a request larger than the burst passes on a full bucket and empties it', () => {
    const clock = manualClock();
    const limiter = new EventRateLimiter({ eventsPerSecond: 1, burst: 10 }, clock.now);
    limiter.take('a', 25);
    expect(refusal(() => limiter.take('a', 25))?.retryAfterS).toBe(10);
  });

  it('0 events per second turns limiting off', () => {
    const limiter = new EventRateLimiter({ eventsPerSecond: 0, burst: 1 }, manualClock().now);
    for (let i = 0; i < 100; i++) limiter.take('a', 1_000_000);
  });

  it('property: admitted events never exceed burst + rate x elapsed, and waiting Retry-After is enough', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 1, max: 1000 })), {
          maxLength: 60,
        }),
        (rate, burst, steps) => {
          const clock = manualClock(0);
          const limiter = new EventRateLimiter({ eventsPerSecond: rate, burst }, clock.now);
          let admitted = 0;
          for (const [waitMs, requested] of steps) {
            clock.advance(waitMs);
            const size = Math.min(requested, burst);
            const error = refusal(() => limiter.take('k', size));
            if (error === undefined) admitted += size;
            else {
              // Nobody else uses the bucket: after Retry-After the same request passes.
              expect(error.retryAfterS).toBeGreaterThanOrEqual(1);
              clock.advance(error.retryAfterS * 1000);
              limiter.take('k', size);
              admitted += size;
            }
            expect(admitted).toBeLessThanOrEqual(burst + (rate * clock.now()) / 1000 + 1e-6);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('rate limits over HTTP', () => {
  let database: TestDatabase;
  let app: FastifyInstance;
  let keys: Record<string, string>;
  const eventsBody = (n: number) => INGEST_ENDPOINTS[0]?.body(ids(n));

  beforeAll(async () => {
    database = await createTestDatabase();
    keys = await createKeys(database.db, { a: 'write', b: 'write', c: 'write', d: 'write' });
    ({ app } = await buildTestApp(database, {
      auth: 'required',
      maxBatchEvents: 20,
      rateLimitEventsPerSecond: 2,
      rateLimitBurst: 20,
    }));
  });
  afterAll(async () => {
    await app?.close();
    await database?.close();
  });

  async function stored(): Promise<number> {
    const { rows } = await database.pool.query('SELECT count(*)::int AS n FROM events');
    return rows[0].n;
  }

  it('counts events, not requests: a 429 rate_limited with Retry-After in seconds, nothing stored', async () => {
    const before = await stored();
    const first = await post(app, '/events', eventsBody(15), bearer(keys.a as string));
    const drainedAt = Date.now();
    expect(first.statusCode).toBe(202);
    const over = await post(app, '/events', eventsBody(20), bearer(keys.a as string));
    expect(over.statusCode).toBe(429);
    expect(over.json()).toMatchObject({ error: 'rate_limited', message: expect.any(String) });
    // 5 tokens left plus 2/s since: 20 need (15 - 2t)/2 more seconds, 8 while t < 0.5 s.
    if (Date.now() - drainedAt < 500) expect(over.headers['retry-after']).toBe('8');
    expect(Number(over.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(await stored()).toBe(before + 15);
    // The 5 events left still go through, one request at a time.
    for (let i = 0; i < 5; i++) {
      expect((await post(app, '/events', eventsBody(1), bearer(keys.a as string))).statusCode).toBe(
        202,
      );
    }
  });

  it('keeps keys independent', async () => {
    expect((await post(app, '/events', eventsBody(20), bearer(keys.b as string))).statusCode).toBe(
      202,
    );
    expect((await post(app, '/events', eventsBody(20), bearer(keys.b as string))).statusCode).toBe(
      429,
    );
    expect((await post(app, '/events', eventsBody(20), bearer(keys.c as string))).statusCode).toBe(
      202,
    );
  });

  it('refills over time: after Retry-After the request passes', async () => {
    const key = bearer(keys.d as string);
    expect((await post(app, '/events', eventsBody(20), key)).statusCode).toBe(202);
    const over = await post(app, '/events', eventsBody(2), key);
    expect(over.statusCode).toBe(429);
    expect(over.headers['retry-after']).toBe('1');
    await new Promise((r) => setTimeout(r, 1000));
    expect((await post(app, '/events', eventsBody(2), key)).statusCode).toBe(202);
  });

  it('applies to the SDK endpoints in their own shapes (Amplitude errors carry code 429)', async () => {
    const { app: sdkApp } = await buildTestApp(database, {
      auth: 'off',
      maxBatchEvents: 10,
      rateLimitEventsPerSecond: 1,
      rateLimitBurst: 10,
    });
    try {
      const segment = (n: number) => ({ batch: ids(n).map((id) => segmentMessage(id)) });
      const amplitude = (n: number) => ({ events: ids(n).map((id) => amplitudeEvent(id)) });
      const ip = (remoteAddress: string) => ({ remoteAddress });
      const send = (url: string, body: unknown, remoteAddress: string) =>
        sdkApp.inject({ method: 'POST', url, payload: body as object, ...ip(remoteAddress) });

      // AUTH=off: one bucket per client IP.
      expect((await send('/v1/batch', segment(10), '10.0.0.1')).statusCode).toBe(200);
      const limited = await send('/v1/batch', segment(5), '10.0.0.1');
      expect(limited.statusCode).toBe(429);
      expect(limited.json()).toMatchObject({ error: 'rate_limited' });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);

      // 10 events need a full bucket again: 10 s at 1 event/s.
      const amp = await send('/2/httpapi', amplitude(10), '10.0.0.1');
      expect(amp.statusCode).toBe(429);
      expect(amp.json()).toMatchObject({ code: 429, error: 'rate_limited' });
      expect(Number(amp.headers['retry-after'])).toBeGreaterThanOrEqual(1);

      expect((await send('/2/httpapi', amplitude(10), '10.0.0.2')).statusCode).toBe(200);
    } finally {
      await sdkApp.close();
    }
  });
});
