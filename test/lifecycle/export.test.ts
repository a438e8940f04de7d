import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCsv } from '../../src/import/csv-rows.js';
import { runImport } from '../../src/import/run-import.js';
import { toStore, writeEvents } from '../../src/ingest/write-events.js';
import { exportBatches } from '../../src/lifecycle/export.js';
import { buildTestApp } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { runProcess } from '../helpers/server-process.js';
import { createProjectRow } from '../helpers/summaries.js';

/**
 * GET /events/export and npm run export: a project exported as CSV and imported into a new
 * project answers every /stats question the same; NDJSON carries every event once, in
 * time order; filters and day bounds in a zone; keyset batches never skip or repeat ties.
 */
let database: TestDatabase;
let app: FastifyInstance;
let source: number;
let copy: number;
const ZONES = ['Europe/Kyiv', 'America/Santiago'];
const USERS = ['alice', 'bob, jr.', 'say "hi"', 'ünï', 'dave', 'eve', 'x'.repeat(256)];
const TYPES = ['view', 'buy, now', 'login'];

beforeAll(async () => {
  database = await createTestDatabase();
  source = await createProjectRow(database.pool, 'source', ZONES);
  copy = await createProjectRow(database.pool, 'copy', ZONES);
  const events = fc
    .sample(
      fc.record({
        user: fc.constantFrom(...USERS),
        type: fc.constantFrom(...TYPES),
        at: fc.integer({ min: Date.UTC(2025, 0, 1), max: Date.UTC(2025, 2, 31) }),
        props: fc.dictionary(
          fc.constantFrom('plan', 'note', 'n'),
          fc.oneof(fc.string(), fc.integer(), fc.constant('a,b\n"c"')),
        ),
      }),
      { numRuns: 700, seed: 11 },
    )
    .map((e, i) => ({
      event_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      // Some share a timestamp, to exercise the keyset's ties.
      occurred_at: new Date(i % 5 === 0 ? Date.UTC(2025, 1, 1, 12) : e.at).toISOString(),
      user_id: e.user,
      event_type: e.type,
      properties: JSON.stringify(e.props),
    }));
  await writeEvents(database.db, toStore(source, 'events', events));
  ({ app } = await buildTestApp(database));
});
afterAll(async () => {
  await app?.close();
  await database?.close();
});

const QUESTIONS = [...ZONES, 'UTC', 'Asia/Tokyo'].flatMap((tz) =>
  [
    '/stats/dau?from=2024-12-30&to=2025-04-02',
    '/stats/top-events?from=2024-12-30&to=2025-04-02&limit=10',
    '/stats/retention?start_date=2025-01-01&days=60',
    '/stats/retention?start_date=2025-01-02&days=30',
    '/stats/active-users?from=2025-01-15&to=2025-04-01',
    '/stats/retention-matrix?from=2025-01-01&to=2025-03-01&windows=4&period=week',
  ].map((url) => `${url}&tz=${encodeURIComponent(tz)}`),
);

async function answers(slug: string) {
  const out: Record<string, unknown> = {};
  for (const url of QUESTIONS) {
    const res = await app.inject({ url, headers: { 'x-project': slug } });
    expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
    out[url] = res.json();
  }
  return out;
}

const exported = (query: string, accept?: string) =>
  app.inject({
    url: `/events/export${query}`,
    headers: { 'x-project': 'source', ...(accept ? { accept } : {}) },
  });

describe('GET /events/export', () => {
  it('round trip: the CSV export imported into a new project answers every /stats question identically', async () => {
    const res = await exported('', 'text/csv');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    const dir = await mkdtemp(path.join(tmpdir(), 'export-'));
    const file = path.join(dir, 'events.csv');
    await writeFile(file, res.body);
    const outcome = await runImport({
      source: await openCsv(file),
      pool: database.pool,
      projectId: copy,
      batchSize: 250,
      inFlight: 2,
      sink: { rejected: () => {}, batchCommitted: () => {}, progress: () => {} },
      nowMs: Date.UTC(2025, 3, 1),
    });
    expect(outcome.status).toBe('complete');
    expect(outcome.totals).toMatchObject({ read: 700, accepted: 700 });
    expect(await answers('copy')).toEqual(await answers('source'));
    // The raw events themselves are the same, properties included.
    const raw = async (id: number) =>
      (
        await database.pool.query(
          `SELECT event_id, occurred_at, user_id, event_type, properties FROM events
           WHERE project_id = $1 ORDER BY event_id`,
          [id],
        )
      ).rows;
    expect(await raw(copy)).toEqual(await raw(source));
  });

  it('NDJSON by default: every event once, ordered by time, each line an event as POST /events takes it', async () => {
    const res = await exported('');
    expect(res.headers['content-type']).toBe('application/x-ndjson');
    const lines = res.body
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(700);
    expect(new Set(lines.map((l) => l.event_id)).size).toBe(700);
    const times = lines.map((l) => l.occurred_at);
    expect(times).toEqual([...times].sort());
    expect(Object.keys(lines[0]).sort()).toEqual(
      ['event_id', 'event_type', 'occurred_at', 'properties', 'user_id'].sort(),
    );
    expect(typeof lines[0].properties).toBe('object');
  });

  it('filters by user, event type and local days of tz, bounds inclusive', async () => {
    const count = async (where: string, values: unknown[]) =>
      (
        await database.pool.query(
          `SELECT count(*)::int AS n FROM events WHERE project_id = $1 AND ${where}`,
          [source, ...values],
        )
      ).rows[0].n;
    const lines = async (query: string) =>
      (await exported(query)).body.split('\n').filter((l) => l !== '').length;
    expect(await lines(`?user_id=${encodeURIComponent('bob, jr.')}`)).toBe(
      await count('user_id = $2', ['bob, jr.']),
    );
    expect(await lines('?event_type=login&from=2025-02-01&to=2025-02-01&tz=Asia/Kathmandu')).toBe(
      await count(
        `event_type = 'login' AND (occurred_at AT TIME ZONE 'Asia/Kathmandu')::date = '2025-02-01'`,
        [],
      ),
    );
    // Without tz: the project's main zone.
    expect(await lines('?from=2025-01-10&to=2025-01-20')).toBe(
      await count(
        `(occurred_at AT TIME ZONE 'Europe/Kyiv')::date BETWEEN '2025-01-10' AND '2025-01-20'`,
        [],
      ),
    );
  });

  it('refuses bad parameters with 422 before any work', async () => {
    for (const query of [
      '?from=2025-02-30',
      '?from=2025-03-02&to=2025-03-01',
      '?to=tomorrow',
      '?tz=Mars/Olympus',
      `?user_id=${'x'.repeat(257)}`,
      '?event_type=',
    ]) {
      const res = await exported(query);
      expect({ query, status: res.statusCode }).toEqual({ query, status: 422 });
    }
  });

  it('keyset batches smaller than a run of equal timestamps skip and repeat nothing', async () => {
    const seen: string[] = [];
    for await (const rows of exportBatches(
      database.pool,
      { projectId: source, fromAt: undefined, toAt: undefined },
      7,
    )) {
      expect(rows.length).toBeLessThanOrEqual(7);
      seen.push(...rows.map((r) => r.event_id));
    }
    expect(seen).toHaveLength(700);
    expect(new Set(seen).size).toBe(700);
  });
});

describe('npm run export', () => {
  it('writes the same CSV as the route to a file', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'export-cli-'));
    const file = path.join(dir, 'out.csv');
    const res = await runProcess(
      [
        '--import',
        'tsx',
        'src/cli/export.ts',
        file,
        '--project',
        'source',
        '--from',
        '2025-01-10',
        '--to',
        '2025-02-10',
      ],
      { DATABASE_URL: database.url },
    );
    expect(res.code, res.stderr).toBe(0);
    const viaRoute = await exported('?from=2025-01-10&to=2025-02-10', 'text/csv');
    const { readFile } = await import('node:fs/promises');
    expect(await readFile(file, 'utf8')).toBe(viaRoute.body);
    expect(res.stdout).toMatch(/Exported \d+ events of project source to /);
  }, 30_000);
});
