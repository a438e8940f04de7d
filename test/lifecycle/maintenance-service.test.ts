import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toStore, writeEvents } from '../../src/ingest/write-events.js';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { runProcess } from '../helpers/server-process.js';
import { createProjectRow } from '../helpers/summaries.js';

/**
 * Maintenance in the service, on a fast-forwarded clock (no test waits for days): a pass
 * expires and drops weeks older than the horizon while every /stats answer over those
 * days stays the same, logs what it did, exposes its metrics, skips while another instance
 * holds the lock, and runs by itself once the server listens.
 */
let database: TestDatabase;
let app: FastifyInstance;
let logs: Record<string, unknown>[];
let clock = Date.UTC(2025, 0, 10);
const DAY = 86_400_000;
const MONDAY = Date.UTC(2025, 0, 6);

beforeAll(async () => {
  database = await createTestDatabase();
  const id = await createProjectRow(database.pool, 'short', ['Europe/Kyiv']);
  const events = [];
  for (let week = 0; week < 10; week++) {
    for (let i = 0; i < 20; i++) {
      events.push({
        event_id: `10${String(week).padStart(6, '0')}-0000-4000-8000-${String(i).padStart(12, '0')}`,
        occurred_at: new Date(MONDAY + week * 7 * DAY + i * 9 * 3_600_000).toISOString(),
        user_id: `u${(week * 3 + i) % 11}`,
        event_type: ['view', 'login', 'buy', 'share'][i % 4] as string,
        properties: '{}',
      });
    }
  }
  await writeEvents(database.db, toStore(id, 'events', events));
  await database.pool.query('UPDATE projects SET raw_retention_days = 30 WHERE project_id = $1', [
    id,
  ]);
  ({ app, logs } = await buildTestApp(
    database,
    { maintenanceIntervalS: 0 },
    { maintenanceNow: () => clock },
  ));
});
afterAll(async () => {
  await app?.close();
  await database?.close();
});

/** Every /stats question over the first weeks, in the main zone and in UTC. */
const QUESTIONS = ['Europe/Kyiv', 'UTC'].flatMap((tz) =>
  [
    '/stats/dau?from=2025-01-06&to=2025-03-16',
    '/stats/top-events?from=2025-01-06&to=2025-03-16&limit=10',
    '/stats/top-events?from=2025-01-13&to=2025-01-19',
    '/stats/retention?start_date=2025-01-07&days=30',
    '/stats/active-users?from=2025-02-01&to=2025-03-10',
    '/stats/retention-matrix?from=2025-01-06&to=2025-02-23&windows=4&period=week',
  ].map((url) => `${url}&tz=${encodeURIComponent(tz)}`),
);

async function answers() {
  const out: Record<string, unknown> = {};
  for (const url of QUESTIONS) {
    const res = await app.inject({ url, headers: { 'x-project': 'short' } });
    expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
    out[url] = res.json();
  }
  return out;
}

const metrics = async () => (await app.inject({ url: '/metrics' })).body;

describe('maintenance in the service', () => {
  it('a pass told it is weeks later drops the expired weeks; every /stats answer over them is identical', async () => {
    const before = await answers();
    // Within the horizon: partitions are made ahead, nothing expires.
    const early = await app.maintenance.runOnce();
    expect(early?.expired).toEqual([]);
    expect(early?.created.length).toBeGreaterThan(0);

    clock = Date.UTC(2025, 3, 14); // 30 days kept: weeks 0-8 are past the horizon
    const { rows: old } = await database.pool.query(
      `SELECT count(*)::int AS n FROM events WHERE occurred_at < '2025-03-10'`,
    );
    const report = await app.maintenance.runOnce();
    expect(report?.expiredEvents).toBe(old[0].n);
    expect(report?.dropped).toHaveLength(9);
    const { rows } = await database.pool.query(
      `SELECT count(*)::int AS n FROM events WHERE occurred_at < '2025-03-10'`,
    );
    expect(rows[0].n).toBe(0);
    expect(await answers()).toEqual(before);

    // A zone without summaries reads raw events: days before what is left are refused.
    const raw = await app.inject({
      url: '/stats/dau?from=2025-01-06&to=2025-03-16&tz=Asia/Tokyo',
      headers: { 'x-project': 'short' },
    });
    expect(raw.statusCode).toBe(422);
    expect(raw.json().error).toBe('outside_retention');
    const left = await app.inject({
      url: '/stats/dau?from=2025-03-11&to=2025-03-16&tz=Asia/Tokyo',
      headers: { 'x-project': 'short' },
    });
    expect(left.statusCode, left.body).toBe(200);

    // What it did is logged and in the metrics.
    const line = logs.find((l) => String(l.msg).startsWith('maintenance: ') && l.expired_events);
    expect(line).toMatchObject({ expired_events: old[0].n, logger: 'maintenance' });
    expect(line?.dropped).toEqual(report?.dropped);
    const text = await metrics();
    expect(text).toContain(`maintenance_last_run_timestamp_seconds ${clock / 1000}`);
    expect(text).toContain(`maintenance_event_partitions ${report?.partitions}`);
    expect(text).toContain(`maintenance_expired_events_total ${old[0].n}`);
    expect(text).toContain('maintenance_dropped_partitions_total 9');
    expect(text).toContain('maintenance_runs_total{result="done"} 2');
  });

  it('skips a pass while another instance holds the lock', async () => {
    const other = new pg.Client({ connectionString: database.url });
    await other.connect();
    try {
      await other.query('SELECT pg_advisory_lock(17729, -1)');
      expect(await app.maintenance.runOnce()).toBeUndefined();
      expect(await metrics()).toContain('maintenance_runs_total{result="skipped"} 1');
      await other.query('SELECT pg_advisory_unlock(17729, -1)');
      expect(await app.maintenance.runOnce()).toBeDefined();
    } finally {
      await other.end();
    }
  });

  it('runs a pass by itself once the server listens (MAINTENANCE_INTERVAL_S > 0)', async () => {
    const listening = await buildTestApp(database, { maintenanceIntervalS: 3600 });
    try {
      await listening.app.listen({ port: 0, host: '127.0.0.1' });
      const deadline = Date.now() + 20_000;
      while (!listening.logs.some((l) => String(l.msg).startsWith('maintenance: '))) {
        if (Date.now() > deadline) throw new Error('no maintenance pass after listen');
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await listening.app.close();
    }
    // An app that never listens (inject) runs none by itself.
    expect(logs.filter((l) => String(l.msg).startsWith('maintenance: '))).toHaveLength(3);
  });
});

describe('npm run maintain', () => {
  it('runs one pass and says what it did', async () => {
    const res = await runProcess(['--import', 'tsx', 'src/cli/maintain.ts'], {
      DATABASE_URL: database.url,
    });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(
      /^Maintenance done in \d+ ms: \d+ partitions created, \d+ raw events expired, \d+ partitions dropped; \d+ partitions$/m,
    );
  }, 30_000);
});
