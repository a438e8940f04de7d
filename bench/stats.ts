/**
 * /stats/* latency on a generated data set, in several time zones, against the same
 * question answered by direct SQL over the raw events table in the same run, with results
 * checked to be identical.
 *
 *   npm run bench:stats -- [--rows 1000000] [--requests 30] [--sql-runs 3 (1 from 5M rows)]
 *
 * The data set (tools/gen-csv.ts, seed 42, 30 days from 2025-10-01, which holds Kyiv's
 * daylight-saving change of 2025-10-26) is loaded once into database events_bench_<rows>
 * with COPY, its summaries built by analytics.rebuild_summaries() for the reporting zones UTC,
 * Europe/Kyiv, America/New_York and Asia/Kathmandu, and reused by later runs.
 */

import { existsSync } from 'node:fs';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createKysely, createPool } from '../src/db/pool.js';
import { generate } from '../tools/gen-csv.js';
import {
  benchServer,
  copyCsvIntoEvents,
  databaseUrl,
  flag,
  freshDatabase,
  median,
  percentile,
  table,
  withClient,
} from './lib.js';

const rows = Number(flag('rows', '1000000'));
const requests = Number(flag('requests', '30'));
// The raw-SQL answers take seconds each at 10M rows (minutes for the matrix): one run is
// the baseline there, and keeps the 10M benchmark under ~15 minutes.
const sqlRuns = Number(flag('sql-runs', rows >= 5_000_000 ? '1' : '3'));
const benchStarted = performance.now();
const START = '2025-10-01';
const END = '2025-10-30';
const COHORT = '2025-10-03';
const ZONES = ['UTC', 'Europe/Kyiv', 'America/New_York', 'Asia/Kathmandu'];
// Kyiv's week with the change from +03:00 to +02:00 (Sunday 2025-10-26 lasts 25 hours).
const DST_WEEK = { from: '2025-10-20', to: '2025-10-26', cohort: '2025-10-24' };

const server = await benchServer();
const name = `events_bench_v2_${rows}`;
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
    const generating = performance.now();
    await generate({
      path: file,
      rows,
      seed: 42,
      users: Math.max(10, Math.round(rows / 25)),
      start: START,
      days: 30,
      dupRate: 0,
    });
    process.stderr.write(
      `  generated in ${((performance.now() - generating) / 1000).toFixed(0)} s\n`,
    );
  }
  await freshDatabase(server.adminUrl, name);
  process.stderr.write(`loading ${file} into ${name} with COPY\n`);
  let started = performance.now();
  await copyCsvIntoEvents(url, file);
  process.stderr.write(`  COPY: ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  started = performance.now();
  await withClient(url, async (c) => {
    // The default project's reporting zones (UTC first, the main zone), built by
    // set_project_zones; then every summary rebuilt from the COPYed events.
    await c.query('SELECT analytics.set_project_zones(1, $1::text[])', [
      ['UTC', ...ZONES.filter((z) => z !== 'UTC')],
    ]);
    await c.query('SELECT analytics.rebuild_summaries()');
    process.stderr.write(
      `  summaries for ${ZONES.length} zones: ${((performance.now() - started) / 1000).toFixed(0)} s\n`,
    );
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
  /** The endpoint's JSON and the SQL rows, each in the shape compared. */
  endpoint?: (body: unknown) => unknown;
  shape: (rows: Record<string, unknown>[]) => unknown;
}

// Seed-style SQL: the questions as one would first write them over raw events.
const dauSql = `
  SELECT d::date::text AS date, count(DISTINCT e.user_id)::int AS unique_users
  FROM generate_series($1::date, $2::date, interval '1 day') d
  LEFT JOIN events e ON (e.occurred_at AT TIME ZONE $3)::date = d::date
  GROUP BY d ORDER BY d`;
const topSql = `
  SELECT event_type, count(*)::int AS count, count(DISTINCT user_id)::int AS unique_users
  FROM events WHERE (occurred_at AT TIME ZONE $3)::date BETWEEN $1::date AND $2::date
  GROUP BY event_type ORDER BY count(*) DESC, event_type COLLATE "C" LIMIT 10`;
const retentionSql = `
  WITH firsts AS (SELECT user_id, min(occurred_at) AS first_at FROM events GROUP BY user_id),
       cohort AS (SELECT user_id FROM firsts WHERE (first_at AT TIME ZONE $2)::date = $1::date)
  SELECT n AS day, count(DISTINCT e.user_id)::int AS count
  FROM generate_series(0, 7) n
  LEFT JOIN (events e JOIN cohort c USING (user_id)) ON (e.occurred_at AT TIME ZONE $2)::date = $1::date + n
  GROUP BY n ORDER BY n`;
// Active users from raw events as a sweep: each (user, local day) covers the days up to its
// next active day, at most 1 / 7 / 30 of them; running sums of +1/-1 edges count them. The
// seed-style form (a DISTINCT over a 30-day window joined to every day) ran for over 8
// minutes at 10M rows. This is still raw events, and independent of the summaries' way of
// counting (which files each day under the *previous* active day).
const activeUsersSql = `
  WITH ud AS (
    SELECT DISTINCT user_id, (occurred_at AT TIME ZONE $3)::date AS day FROM events
    WHERE (occurred_at AT TIME ZONE $3)::date BETWEEN $1::date - 29 AND $2::date
  ), spans AS (
    SELECT day, coalesce(lead(day) OVER (PARTITION BY user_id ORDER BY day), 'infinity') AS next_day FROM ud
  ), edges AS (
    SELECT day AS at, 1 AS dau, 1 AS wau, 1 AS mau FROM spans
    UNION ALL SELECT day + 1, -1, 0, 0 FROM spans
    UNION ALL SELECT least(day + 7, next_day), 0, -1, 0 FROM spans
    UNION ALL SELECT least(day + 30, next_day), 0, 0, -1 FROM spans
  ), per_day AS (
    SELECT at, sum(dau) AS dau, sum(wau) AS wau, sum(mau) AS mau FROM edges GROUP BY at
  ), running AS (
    SELECT d::date AS date,
           sum(coalesce(p.dau, 0)) OVER w AS dau,
           sum(coalesce(p.wau, 0)) OVER w AS wau,
           sum(coalesce(p.mau, 0)) OVER w AS mau
    FROM generate_series($1::date - 29, $2::date, interval '1 day') d
    LEFT JOIN per_day p ON p.at = d::date
    WINDOW w AS (ORDER BY d)
  )
  SELECT date::text AS date, dau::int, wau::int, mau::int FROM running
  WHERE date BETWEEN $1::date AND $2::date ORDER BY date`;
const matrixSql = `
  WITH firsts AS (
    SELECT user_id, (min(occurred_at) AT TIME ZONE $3)::date AS cohort FROM events GROUP BY user_id
  ), active AS (
    SELECT DISTINCT user_id, (occurred_at AT TIME ZONE $3)::date AS day FROM events
  ), counts AS (
    SELECT f.cohort, a.day - f.cohort AS n, count(*) AS users
    FROM firsts f JOIN active a USING (user_id)
    WHERE f.cohort BETWEEN $1::date AND $2::date AND a.day - f.cohort BETWEEN 0 AND 7
    GROUP BY 1, 2
  )
  SELECT c::date::text AS start_date, g.n, coalesce(counts.users, 0)::int AS count
  FROM generate_series($1::date, $2::date, interval '1 day') c
  CROSS JOIN generate_series(0, 7) AS g(n)
  LEFT JOIN counts ON counts.cohort = c::date AND counts.n = g.n
  ORDER BY c, g.n`;

const retentionCounts = (body: unknown) =>
  (body as { windows: { day: number; count: number }[] }).windows.map((w) => ({
    day: w.day,
    count: w.count,
  }));
const matrixCounts = (body: unknown) =>
  (body as { cohorts: { start_date: string; counts: number[] }[] }).cohorts.map((c) => ({
    start_date: c.start_date,
    counts: c.counts,
  }));
const matrixShape = (r: Record<string, unknown>[]) => {
  const byCohort = new Map<string, number[]>();
  for (const x of r) {
    const counts = byCohort.get(x.start_date as string) ?? [];
    counts.push(x.count as number);
    byCohort.set(x.start_date as string, counts);
  }
  return [...byCohort].map(([start_date, counts]) => ({ start_date, counts }));
};

const cases: Case[] = [];
for (const tz of ZONES) {
  const q = `tz=${encodeURIComponent(tz)}`;
  cases.push(
    {
      name: `${tz}: DAU, 30 days`,
      path: `/stats/dau?from=${START}&to=${END}&${q}`,
      sql: dauSql,
      params: [START, END, tz],
      shape: (r) => r,
    },
    {
      name: `${tz}: top events, 30 days`,
      path: `/stats/top-events?from=${START}&to=${END}&limit=10&${q}`,
      sql: topSql,
      params: [START, END, tz],
      shape: (r) => r,
    },
    {
      name: `${tz}: retention, windows=7`,
      path: `/stats/retention?start_date=${COHORT}&windows=7&${q}`,
      sql: retentionSql,
      params: [COHORT, tz],
      endpoint: retentionCounts,
      shape: (r) => r,
    },
  );
}
const kyiv = 'Europe/Kyiv';
cases.push(
  {
    name: `${kyiv} DST week ${DST_WEEK.from}..${DST_WEEK.to}: DAU`,
    path: `/stats/dau?from=${DST_WEEK.from}&to=${DST_WEEK.to}&tz=${kyiv}`,
    sql: dauSql,
    params: [DST_WEEK.from, DST_WEEK.to, kyiv],
    shape: (r) => r,
  },
  {
    name: `${kyiv} DST week: top events`,
    path: `/stats/top-events?from=${DST_WEEK.from}&to=${DST_WEEK.to}&limit=10&tz=${kyiv}`,
    sql: topSql,
    params: [DST_WEEK.from, DST_WEEK.to, kyiv],
    shape: (r) => r,
  },
  {
    name: `${kyiv} DST week: retention from ${DST_WEEK.cohort}, windows=7`,
    path: `/stats/retention?start_date=${DST_WEEK.cohort}&windows=7&tz=${kyiv}`,
    sql: retentionSql,
    params: [DST_WEEK.cohort, kyiv],
    endpoint: retentionCounts,
    shape: (r) => r,
  },
  {
    name: `${kyiv}: active users (dau/wau/mau), 30 days (SQL: a sweep, see above)`,
    path: `/stats/active-users?from=${START}&to=${END}&tz=${kyiv}`,
    sql: activeUsersSql,
    params: [START, END, kyiv],
    shape: (r) => r,
  },
  {
    name: `${kyiv}: retention matrix, 30 daily cohorts x 7 windows`,
    path: `/stats/retention-matrix?from=${START}&to=${END}&windows=7&tz=${kyiv}`,
    sql: matrixSql,
    params: [START, END, kyiv],
    endpoint: matrixCounts,
    shape: matrixShape,
  },
);

const results: (string | number)[][] = [];
let mismatches = 0;
for (const c of cases) {
  const latencies: number[] = [];
  let body: unknown;
  for (let i = 0; i < requests + 3; i++) {
    const started = performance.now();
    const res = await fetch(`${address}${c.path}`);
    body = await res.json();
    if (res.status !== 200)
      throw new Error(`${c.path} answered ${res.status}: ${JSON.stringify(body)}`);
    if (i >= 3) latencies.push(performance.now() - started); // 3 warm-up requests
  }
  const sqlTimes: number[] = [];
  let sqlRows: Record<string, unknown>[] = [];
  for (let i = 0; i < sqlRuns; i++) {
    const started = performance.now();
    sqlRows = (await pool.query(c.sql, c.params)).rows;
    sqlTimes.push(performance.now() - started);
  }
  const endpointShape = c.endpoint ? c.endpoint(body) : body;
  const identical = JSON.stringify(endpointShape) === JSON.stringify(c.shape(sqlRows));
  if (!identical) {
    mismatches++;
    process.stderr.write(
      `MISMATCH for ${c.name}\nendpoint: ${JSON.stringify(endpointShape)}\nsql: ${JSON.stringify(c.shape(sqlRows))}\n`,
    );
  }
  results.push([
    c.name,
    median(latencies).toFixed(2),
    percentile(latencies, 95).toFixed(2),
    median(sqlTimes).toFixed(0),
    `${Math.round(median(sqlTimes) / median(latencies))}x`,
    identical ? 'yes' : 'NO',
  ]);
  process.stderr.write(
    `${c.name}: done (${((performance.now() - benchStarted) / 60_000).toFixed(1)} min so far)\n`,
  );
}

await app.close();
await db.destroy();
await server.stop();

console.log(
  `\nWhole benchmark: ${((performance.now() - benchStarted) / 60_000).toFixed(1)} minutes (data set ${loaded ? 'reused' : 'generated and loaded in this run'}).`,
);
console.log(
  `\n/stats at ${stored} stored events (${rows} generated rows), ${requests} HTTP requests per endpoint, direct SQL ${sqlRuns} runs, ${server.describe}\n`,
);
console.log(
  table(
    [
      'question',
      'endpoint median ms',
      'endpoint p95 ms',
      'seed-style SQL median ms',
      'speed-up',
      'identical',
    ],
    results,
  ),
);
if (mismatches > 0) process.exitCode = 1;
