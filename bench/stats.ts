/**
 * /stats/* latency on a generated data set, against the same question answered by direct
 * SQL over the raw events table in the same run, with results checked to be identical.
 *
 *   npm run bench:stats -- [--rows 1000000] [--requests 50] [--sql-runs 5]
 *
 * The data set (tools/gen-csv.ts, seed 42, 30 days) is loaded once with the importer into
 * database events_bench_<rows> and reused by later runs.
 */

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createKysely, createPool } from '../src/db/pool.js';
import { generate } from '../tools/gen-csv.js';
import {
  benchServer,
  databaseUrl,
  flag,
  freshDatabase,
  median,
  percentile,
  table,
  withClient,
} from './lib.js';

const rows = Number(flag('rows', '1000000'));
const requests = Number(flag('requests', '50'));
const sqlRuns = Number(flag('sql-runs', '5'));
const START = '2025-10-01';
const END = '2025-10-30';
const COHORT = '2025-10-03';

const server = await benchServer();
const name = `events_bench_${rows}`;
const url = databaseUrl(server.adminUrl, name);
const loaded = await withClient(server.adminUrl, async (c) => {
  const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (exists.rowCount === 0) return false;
  return withClient(url, async (d) => {
    const marker = await d.query(`SELECT to_regclass('bench_dataset') IS NOT NULL AS ok`);
    if (!marker.rows[0].ok) return false;
    const r = await d.query('SELECT rows FROM bench_dataset');
    return r.rows[0]?.rows === rows;
  });
});
if (!loaded) {
  const file = `data/bench-${rows}.csv`;
  if (!existsSync(file)) {
    process.stderr.write(`generating ${file}\n`);
    await generate({
      path: file,
      rows,
      seed: 42,
      users: Math.max(10, Math.round(rows / 25)),
      start: START,
      days: 30,
      dupRate: 0,
    });
  }
  await freshDatabase(server.adminUrl, name);
  process.stderr.write(`importing ${file} into ${name}\n`);
  execFileSync(process.execPath, ['--import', 'tsx', 'src/cli/import-events.ts', file], {
    env: { ...process.env, DATABASE_URL: url },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  await withClient(url, async (c) => {
    await c.query('VACUUM ANALYZE');
    await c.query(`CREATE TABLE bench_dataset AS SELECT ${rows} AS rows`);
  });
}

const pool = createPool(url, { max: 4 });
const db = createKysely(pool);
const app = await buildApp({
  config: { ...loadConfig({}), logLevel: 'warn', maxBodyBytes: 1 << 24 },
  db,
  pool,
});
const address = await app.listen({ port: 0, host: '127.0.0.1' });
const stored = (await pool.query('SELECT count(*)::int AS n FROM events')).rows[0].n;

interface Case {
  name: string;
  path: string;
  sql: string;
  params: unknown[];
  /** The SQL rows in the endpoint's JSON shape. */
  shape: (rows: Record<string, unknown>[]) => unknown;
}

const cases: Case[] = [
  {
    name: 'DAU, 30 days',
    path: `/stats/dau?from=${START}&to=${END}`,
    sql: `SELECT d::date::text AS date, count(DISTINCT e.user_id)::int AS unique_users
          FROM generate_series($1::date, $2::date, interval '1 day') d
          LEFT JOIN events e ON (e.occurred_at AT TIME ZONE 'UTC')::date = d::date
          GROUP BY d ORDER BY d`,
    params: [START, END],
    shape: (r) => r,
  },
  {
    name: 'top events, 30 days',
    path: `/stats/top-events?from=${START}&to=${END}&limit=10`,
    sql: `SELECT event_type, count(*)::int AS count, count(DISTINCT user_id)::int AS unique_users
          FROM events WHERE occurred_at >= $1::date AND occurred_at < $2::date + 1
          GROUP BY event_type ORDER BY count(*) DESC, event_type COLLATE "C" LIMIT 10`,
    params: [START, END],
    shape: (r) => r,
  },
  {
    name: 'retention, windows=7',
    path: `/stats/retention?start_date=${COHORT}&windows=7`,
    sql: `WITH firsts AS (SELECT user_id, min(occurred_at) AS first_at FROM events GROUP BY user_id),
               cohort AS (SELECT user_id FROM firsts WHERE (first_at AT TIME ZONE 'UTC')::date = $1::date)
          SELECT n AS day, count(DISTINCT e.user_id)::int AS count
          FROM generate_series(0, 7) n
          LEFT JOIN (events e JOIN cohort c USING (user_id)) ON (e.occurred_at AT TIME ZONE 'UTC')::date = $1::date + n
          GROUP BY n ORDER BY n`,
    params: [COHORT],
    shape: (r) => r.map((x) => ({ day: x.day, count: x.count })),
  },
];

const results: (string | number)[][] = [];
for (const c of cases) {
  const latencies: number[] = [];
  let body: unknown;
  for (let i = 0; i < requests + 5; i++) {
    const started = performance.now();
    const res = await fetch(`${address}${c.path}`);
    body = await res.json();
    if (i >= 5) latencies.push(performance.now() - started); // 5 warm-up requests
  }
  const sqlTimes: number[] = [];
  let sqlRows: Record<string, unknown>[] = [];
  for (let i = 0; i < sqlRuns; i++) {
    const started = performance.now();
    sqlRows = (await pool.query(c.sql, c.params)).rows;
    sqlTimes.push(performance.now() - started);
  }
  const endpointShape = c.name.startsWith('retention')
    ? (body as { windows: { day: number; count: number }[] }).windows.map((w) => ({
        day: w.day,
        count: w.count,
      }))
    : body;
  const identical = JSON.stringify(endpointShape) === JSON.stringify(c.shape(sqlRows));
  if (!identical)
    process.stderr.write(
      `MISMATCH for ${c.name}\nendpoint: ${JSON.stringify(endpointShape)}\nsql: ${JSON.stringify(c.shape(sqlRows))}\n`,
    );
  results.push([
    c.name,
    median(latencies).toFixed(2),
    percentile(latencies, 95).toFixed(2),
    median(sqlTimes).toFixed(0),
    `${Math.round(median(sqlTimes) / median(latencies))}x`,
    identical ? 'yes' : 'NO',
  ]);
  process.stderr.write(`${c.name}: done\n`);
}

await app.close();
await db.destroy();
await server.stop();

console.log(
  `\n/stats at ${stored} stored events (${rows} generated rows), ${requests} HTTP requests per endpoint, direct SQL ${sqlRuns} runs, ${server.describe}\n`,
);
console.log(
  table(
    [
      'question',
      'endpoint median ms',
      'endpoint p95 ms',
      'direct SQL median ms',
      'speed-up',
      'identical',
    ],
    results,
  ),
);
