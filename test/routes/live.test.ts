import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import liveRoutes, { SampleRing } from '../../src/routes/live.js';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { event } from '../helpers/events.js';

describe('SampleRing', () => {
  it('measures the increase since the oldest of the last `size` samples', () => {
    const ring = new SampleRing(3);
    expect(ring.increaseSince(5)).toBe(0);
    ring.record(10);
    expect(ring.increaseSince(14)).toBe(4);
    ring.record(12);
    ring.record(20);
    expect(ring.increaseSince(25)).toBe(15); // oldest is still 10
    ring.record(30); // overwrites 10
    expect(ring.increaseSince(30)).toBe(18); // oldest is 12
    ring.record(31);
    ring.record(32);
    ring.record(33); // the ring now holds 31, 32, 33
    expect(ring.increaseSince(40)).toBe(9);
  });
});

/** Per-project counts that record how often the sampler reads them. */
class CountedMap extends Map<number, number> {
  reads = 0;
  override [Symbol.iterator]() {
    this.reads++;
    return super[Symbol.iterator]();
  }
}

/**
 * The real route on real per-project counts (as app.ingest keeps them), sampled every 5 ms
 * instead of every second; every request is project 1's.
 */
async function liveRouteOnCounts() {
  const app = Fastify();
  const counts = new CountedMap();
  app.decorate('ingest', { acceptedByProject: counts } as never);
  app.decorate('projects', {
    forRequest: async () => ({ id: 1, slug: 'default', name: 'Default', zones: [], createdAt: '' }),
  } as never);
  await app.register(liveRoutes, { sampleEveryMs: 5 });
  const add = (n: number) => counts.set(1, (counts.get(1) ?? 0) + n);
  return { app, counts, add };
}

describe('GET /stats/live', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database.close();
  });

  it('counts the events accepted since the app started, and their rate over 60 s', async () => {
    const { app } = await buildTestApp(database);
    try {
      expect((await app.inject('/stats/live')).json()).toEqual({
        events_last_minute: 0,
        events_per_second: 0,
      });
      const batch = Array.from({ length: 7 }, () => event());
      const posted = await app.inject({ method: 'POST', url: '/events', payload: batch });
      expect(posted.json()).toEqual({ accepted: 7, skipped: 0 });
      // Duplicates are not new events.
      await app.inject({ method: 'POST', url: '/events', payload: batch.slice(0, 3) });
      const live = await app.inject('/stats/live');
      expect(live.statusCode).toBe(200);
      expect(live.json()).toEqual({ events_last_minute: 7, events_per_second: 0.12 });
    } finally {
      await app.close();
    }
  });

  it("counts each project's events apart", async () => {
    const { app } = await buildTestApp(database);
    try {
      await app.inject({ method: 'POST', url: '/projects', payload: { slug: 'live-b' } });
      await app.inject({
        method: 'POST',
        url: '/events',
        headers: { 'x-project': 'live-b' },
        payload: Array.from({ length: 4 }, () => event()),
      });
      const b = await app.inject({ url: '/stats/live', headers: { 'x-project': 'live-b' } });
      expect(b.json()).toEqual({ events_last_minute: 4, events_per_second: 0.07 });
      const unknown = await app.inject('/stats/live?project=nope');
      expect(unknown.statusCode).toBe(404);
    } finally {
      await app.close();
    }
  });

  it('forgets events once they are older than the 60 samples', async () => {
    const { app, add } = await liveRouteOnCounts();
    try {
      add(90);
      expect((await app.inject('/stats/live')).json()).toEqual({
        events_last_minute: 90,
        events_per_second: 1.5,
      });
      // 60 samples later (timers may run late on a busy machine: poll, at most 10 s).
      const deadline = Date.now() + 10_000;
      let last = 90;
      while (last !== 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        last = (await app.inject('/stats/live')).json().events_last_minute;
      }
      expect(last).toBe(0);
      add(3);
      expect((await app.inject('/stats/live')).json()).toEqual({
        events_last_minute: 3,
        events_per_second: 0.05,
      });
    } finally {
      await app.close();
    }
  });

  it('stops sampling when the app closes', async () => {
    const { app, counts } = await liveRouteOnCounts();
    await app.ready();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(counts.reads).toBeGreaterThan(0);
    await app.close();
    const after = counts.reads;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(counts.reads).toBe(after);
  });
});
