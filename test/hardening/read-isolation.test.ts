import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { writeEvents } from '../../src/ingest/write-events.js';
import { formatDay, today } from '../../src/stats/dates.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { type ServerProcess, startServerProcess } from '../helpers/server-process.js';

/**
 * Issue 19, finding 2: reads cannot starve writes. The server runs as a real process (its
 * pools as in production) while 40 loops ask raw-path /stats questions (a zone without
 * summaries) as fast as they are answered; 1-event POST /events and /healthz are measured
 * idle and under that load. (bench:abuse runs the same on 300k events; here a smaller data
 * set and fewer seconds.)
 */

let database: TestDatabase;
let server: ServerProcess;
const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });

const EVENTS = 60_000;
const DAYS = 400;

beforeAll(async () => {
  database = await createTestDatabase();
  const first = today('UTC') - DAYS;
  for (let i = 0; i < EVENTS; i += 5000) {
    await writeEvents(
      database.db,
      Array.from({ length: 5000 }, (_, j) => {
        const n = i + j;
        return {
          project_id: 1,
          source: 'events' as const,
          event_id: randomUUID(),
          occurred_at: `${formatDay(first + (n % DAYS))}T${String(n % 24).padStart(2, '0')}:00:00Z`,
          user_id: `user-${(n * 7919) % 3000}`,
          event_type: `type-${n % 9}`,
          properties: '{}',
        };
      }),
    );
  }
  await database.pool.query('ANALYZE');
  server = await startServerProcess(['--import', 'tsx', 'src/server.ts'], {
    DATABASE_URL: database.url,
  });
}, 180_000);
afterAll(async () => {
  agent.destroy();
  server?.proc.kill('SIGTERM');
  await server?.exited;
  await database?.close();
});

interface Sample {
  ms: number;
  status: number;
  retryAfter?: string;
  /** The body of an error answer. */
  error?: string;
}

function request(path: string, body?: string): Promise<Sample> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = http.request(
      `${server.baseUrl}${path}`,
      {
        method: body === undefined ? 'GET' : 'POST',
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        agent,
      },
      (res) => {
        let text = '';
        res.on('data', (chunk) => {
          if ((res.statusCode ?? 0) >= 400) text += String(chunk);
        });
        res.on('end', () =>
          resolve({
            ms: performance.now() - started,
            status: res.statusCode ?? 0,
            retryAfter: res.headers['retry-after'],
            error: text || undefined,
          }),
        );
      },
    );
    req.on('error', () => resolve({ ms: performance.now() - started, status: 0 }));
    req.end(body);
  });
}

const oneEvent = () =>
  JSON.stringify([
    {
      event_id: randomUUID(),
      occurred_at: new Date().toISOString(),
      user_id: 'writer',
      event_type: 'isolation_probe',
    },
  ]);

/** 1-event writes at 50/s and /healthz every 100 ms, for `ms`. */
async function measure(ms: number): Promise<{ writes: Sample[]; health: Sample[] }> {
  const writes: Promise<Sample>[] = [];
  const health: Promise<Sample>[] = [];
  const end = performance.now() + ms;
  let tick = 0;
  while (performance.now() < end) {
    writes.push(request('/events', oneEvent()));
    if (tick++ % 2 === 0) health.push(request('/healthz'));
    await sleep(20);
  }
  return { writes: await Promise.all(writes), health: await Promise.all(health) };
}

const p99 = (samples: Sample[]) => {
  const sorted = samples.map((s) => s.ms).sort((a, b) => a - b);
  return sorted[Math.floor(0.99 * (sorted.length - 1))] as number;
};

describe('40 raw-path readers against 1-event writers and /healthz', () => {
  it('documents its defaults', () => {
    expect(loadConfig({})).toMatchObject({
      statsPoolSize: 4,
      rawStatsConcurrency: 1,
      rawStatsQueue: 64,
    });
  });

  it('keeps every write and every health check fast and successful', async () => {
    await measure(1000); // warm-up: the first requests of a process compile code
    const idle = await measure(4000);

    const end = formatDay(today('UTC') - 1);
    const back = (days: number) => formatDay(today('UTC') - days);
    const tz = 'tz=America/Sao_Paulo';
    const paths = [
      `/stats/retention-matrix?from=${back(91)}&to=${end}&windows=30&${tz}`,
      `/stats/active-users?from=${back(366)}&to=${end}&${tz}`,
      `/stats/dau?from=${back(3660)}&to=${end}&${tz}`,
      `/stats/top-events?from=${back(3660)}&to=${end}&${tz}`,
    ];
    let running = true;
    const reads: Sample[] = [];
    const readers = Array.from({ length: 40 }, async (_, loop) => {
      for (let i = loop; running; i += 40) {
        reads.push(await request(paths[i % paths.length] as string));
      }
    });
    // Raw-path queries on their own connections: never more than RAW_STATS_CONCURRENCY.
    let mostRawConnections = 0;
    const watcher = (async () => {
      while (running) {
        const { rows } = await database.pool.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND application_name = 'events-analytics-raw-stats'
             AND state = 'active'`,
        );
        mostRawConnections = Math.max(mostRawConnections, rows[0].n);
        await sleep(50);
      }
    })();
    await sleep(1500); // the readers are under way before the measurement starts
    const loaded = await measure(6000);
    running = false;
    await Promise.all([...readers, watcher]);

    const context = JSON.stringify({
      idle: { p99: p99(idle.writes), healthMax: Math.max(...idle.health.map((h) => h.ms)) },
      loaded: {
        p99: p99(loaded.writes),
        failed: loaded.writes.filter((w) => w.status !== 202).length,
        health: loaded.health.filter((h) => h.status !== 200 || h.ms > 100).map((h) => h.ms),
      },
      reads: reads.length,
    });
    // Every write succeeds, and as fast as when idle: p99 within 3x (plus 25 ms of
    // scheduling noise on a shared 2-core machine). Before: 11-21 of ~45 writes failed
    // after 5 s waits for a connection.
    expect(
      loaded.writes.every((w) => w.status === 202),
      context,
    ).toBe(true);
    expect(p99(loaded.writes), context).toBeLessThanOrEqual(3 * p99(idle.writes) + 25);
    // Every /healthz answers 200, within 100 ms on a quiet machine: here within 100 ms or
    // 3x the slowest idle one, as the machine may be slower than that for everyone (load
    // averages of 10-20 on its 2 cores while other suites run). Before: 503 "db
    // unavailable" and waits of seconds.
    const healthLimit = Math.max(100, 3 * Math.max(...idle.health.map((h) => h.ms)));
    expect(
      loaded.health.every((h) => h.status === 200 && h.ms <= healthLimit),
      context,
    ).toBe(true);
    // Raw reads still get answers, one at a time; the others wait without a connection
    // or are told to come back later.
    expect(reads.some((r) => r.status === 200)).toBe(true);
    expect(reads.every((r) => r.status === 200 || r.status === 503)).toBe(true);
    for (const busy of reads.filter((r) => r.status === 503)) expect(busy.retryAfter).toBe('1');
    expect(mostRawConnections).toBeLessThanOrEqual(1);
  }, 120_000);

  it('answers a raw-path read beyond the queue at once with 503 busy and Retry-After', async () => {
    // A raw-path query that cannot finish: events is locked by another session.
    const locker = await database.pool.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
      const path = `/stats/dau?from=${formatDay(today('UTC') - 30)}&to=${formatDay(today('UTC'))}&tz=America/Sao_Paulo`;
      // 1 running (waiting for the lock), 64 waiting for a turn; the rest refused at once.
      const pending = Array.from({ length: 80 }, () => request(path));
      const first = await Promise.race(pending);
      expect(first.status).toBe(503);
      expect(first.ms).toBeLessThan(2000);
      await sleep(6000); // the waiting ones give up after 5 s, also with 503 busy
      await locker.query('ROLLBACK');
      const answers = await Promise.all(pending);
      const busy = answers.filter((a) => a.status === 503);
      expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
      expect(busy).toHaveLength(79);
      expect(busy.filter((b) => b.ms < 2000).length).toBeGreaterThanOrEqual(80 - 65);
      for (const answer of busy) {
        expect(answer.retryAfter).toBe('1');
        expect(JSON.parse(answer.error ?? '{}')).toEqual({
          error: 'busy',
          message: expect.stringContaining('raw-event /stats queries'),
        });
      }
    } finally {
      await locker.query('ROLLBACK').catch(() => {});
      locker.release();
    }
  }, 60_000);
});
