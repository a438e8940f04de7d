/**
 * The exploration routes (GET /stats/funnel, /stats/dau?where=, /stats/top-events?breakdown=,
 * ...; src/stats/funnel.ts, filtered-dau.ts, ...), asked through HTTP (app.inject on the app
 * as the server builds it, with its work pools: the raw-event gate, RAW_STATS_CONCURRENCY 1,
 * no parallel workers) on generated data with funnels and per-user properties
 * (gen:csv --funnels), against the
 * same questions written as straightforward SQL over a plain events table with the seed's
 * indexes (uuid primary key; btree on event_type, user_id, occurred_at), measured in the
 * same run, answers checked to be identical.
 *
 *   npm run bench:explore -- [--rows 1000000,10000000] [--runs 5] [--sql-runs 3 (1 from 5M)]
 *                            [--tz Europe/Kyiv] [--explain yes] [--extras no]
 *                            [--pools server,parallel]
 *
 * Each size is loaded once into database explore_api_bench_<rows> (migrated: the `default`
 * project's partitioned events, their dedup rows and users; plain_events beside them, same
 * rows) and reused by later runs. Range: 30 days from 2025-10-01 (all of the data; holds
 * Kyiv's DST change).
 */

import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Writable } from 'node:stream';
import { isDeepStrictEqual } from 'node:util';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { createKysely, createPool } from '../src/db/pool.js';
import { closeWorkPools, createWorkPools } from '../src/db/work-pools.js';
import type { Funnel } from '../src/stats/funnel.js';
import { parseZone } from '../src/stats/zone.js';
import { generate } from '../tools/gen-csv.js';
import { benchServer, databaseUrl, flag, median, table, withClient } from './lib.js';

const sizes = flag('rows', '1000000').split(',').map(Number);
const runs = Number(flag('runs', '5'));
const zone = parseZone(flag('tz', 'Europe/Kyiv'));
const explain = flag('explain', 'no') === 'yes';
// --extras no: only the three questions with targets (the others take minutes at 10M).
const extras = flag('extras', 'yes') === 'yes';
const RANGE = { from: '2025-10-01', to: '2025-10-30' };
const PROJECT = 1;
const STEPS = ['signup', 'activate', 'purchase'];
const WINDOW_SECONDS = 7 * 86_400;
const SCALAR = `('string', 'number', 'boolean')`;

const server = await benchServer();

async function load(rows: number): Promise<string> {
  const name = `explore_api_bench_${rows}`;
  const url = databaseUrl(server.adminUrl, name);
  const loaded = await withClient(server.adminUrl, async (c) => {
    const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) return false;
    return withClient(url, async (d) => {
      const marker = await d.query(`SELECT to_regclass('bench_dataset') IS NOT NULL AS ok`);
      return marker.rows[0].ok === true;
    });
  });
  if (loaded) return url;
  const file = `data/explore-${rows}.csv`;
  if (!existsSync(file)) {
    process.stderr.write(`generating ${file}\n`);
    await generate({
      path: file,
      rows,
      seed: 42,
      users: Math.max(10, Math.round(rows / 25)),
      start: RANGE.from,
      days: 30,
      dupRate: 0,
      funnels: true,
    });
  }
  await withClient(server.adminUrl, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${name}`);
  });
  const migrator = createKysely(createPool(url, { max: 1 }));
  await migrateToLatest(migrator);
  await migrator.destroy();
  const { createReadStream } = await import('node:fs');
  const { pipeline } = await import('node:stream/promises');
  const { from: copyFrom } = await import('pg-copy-streams');
  const step = async (label: string, run: () => Promise<unknown>) => {
    const started = performance.now();
    await run();
    process.stderr.write(`  ${label}: ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  };
  process.stderr.write(`loading ${file} into ${name}\n`);
  await withClient(url, async (c) => {
    await c.query(`CREATE UNLOGGED TABLE csv_events (event_id uuid, occurred_at timestamptz,
      user_id text, event_type text, properties jsonb)`);
    await step('COPY', () =>
      pipeline(
        createReadStream(file),
        c.query(
          copyFrom('COPY csv_events FROM STDIN WITH (FORMAT csv, HEADER true)'),
        ) as unknown as NodeJS.WritableStream,
      ),
    );
    await step('events (partitions, dedup rows, indexes)', async () => {
      await c.query(
        'SELECT analytics.create_event_partitions(min(occurred_at), max(occurred_at)) FROM csv_events',
      );
      await c.query(`INSERT INTO events (project_id, source, event_id, occurred_at, user_id,
        event_type, properties) SELECT ${PROJECT}, 1, event_id, occurred_at, user_id, event_type,
        properties FROM csv_events`);
      await c.query(`INSERT INTO event_ids (project_id, source, event_id, occurred_at)
        SELECT ${PROJECT}, 1, event_id, occurred_at FROM csv_events`);
    });
    await step('plain_events (seed shape and indexes)', async () => {
      await c.query(`CREATE TABLE plain_events (event_id uuid PRIMARY KEY, occurred_at timestamptz NOT NULL,
        user_id text NOT NULL, event_type text NOT NULL, properties jsonb NOT NULL DEFAULT '{}',
        received_at timestamptz NOT NULL DEFAULT now())`);
      await c.query(`INSERT INTO plain_events SELECT event_id, occurred_at, user_id, event_type,
        properties, now() FROM csv_events`);
      await c.query('CREATE INDEX ON plain_events (event_type)');
      await c.query('CREATE INDEX ON plain_events (user_id)');
      await c.query('CREATE INDEX ON plain_events (occurred_at)');
    });
    await step('users', () =>
      c.query(`INSERT INTO users (project_id, user_id, first_seen_at, last_seen_at)
        SELECT ${PROJECT}, user_id, min(occurred_at), max(occurred_at) FROM csv_events GROUP BY user_id`),
    );
    await c.query('DROP TABLE csv_events');
    await step('VACUUM ANALYZE', () => c.query('VACUUM ANALYZE'));
    await c.query(`CREATE TABLE bench_dataset AS SELECT ${rows} AS rows`);
  });
  return url;
}

// The straightforward SQL: each question as one would first write it over raw events.
// Set-based (hash joins): a first draft with LATERAL look-ups per entry ran for minutes at
// 1M rows (the planner misjudged the entries and intersected bitmaps of a week of events
// for each), which would make any ratio meaningless.
const funnelSql = `
  WITH entries AS (
    SELECT user_id, occurred_at AS t1 FROM plain_events
    WHERE event_type = $1 AND (occurred_at AT TIME ZONE $5)::date BETWEEN $6::date AND $7::date
  ), step2 AS (
    SELECT en.user_id, en.t1, min(e.occurred_at) AS t2
    FROM entries en LEFT JOIN plain_events e ON e.user_id = en.user_id AND e.event_type = $2
      AND e.occurred_at >= en.t1 AND e.occurred_at <= en.t1 + $4 * interval '1 second'
    GROUP BY en.user_id, en.t1
  ), step3 AS (
    SELECT s.user_id, s.t1, s.t2, min(e.occurred_at) AS t3
    FROM step2 s LEFT JOIN plain_events e ON e.user_id = s.user_id AND e.event_type = $3
      AND e.occurred_at >= s.t2 AND e.occurred_at <= s.t1 + $4 * interval '1 second'
    GROUP BY s.user_id, s.t1, s.t2
  ), best AS (
    SELECT DISTINCT ON (user_id) user_id, t1, t2, t3,
           1 + (t2 IS NOT NULL)::int + (t3 IS NOT NULL)::int AS level
    FROM step3 ORDER BY user_id, level DESC, t1
  )
  SELECT count(*)::int AS s1, count(*) FILTER (WHERE level >= 2)::int AS s2,
         count(*) FILTER (WHERE level >= 3)::int AS s3,
         percentile_disc(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t2 - t1)) FILTER (WHERE level >= 2) AS m2,
         percentile_disc(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t3 - t2)) FILTER (WHERE level >= 3) AS m3
  FROM best`;
const dauSql = `
  SELECT d::date::text AS date, count(DISTINCT e.user_id)::int AS unique_users
  FROM generate_series($1::date, $2::date, interval '1 day') d
  LEFT JOIN plain_events e ON (e.occurred_at AT TIME ZONE $3)::date = d::date
    AND e.properties ->> $4 = $5 AND jsonb_typeof(e.properties -> $4) IN ${SCALAR}
  GROUP BY d ORDER BY d`;
const topBreakdownSql = `
  WITH ev AS (
    SELECT event_type, user_id,
           CASE WHEN jsonb_typeof(properties -> $4) IN ${SCALAR} THEN properties ->> $4 END AS v
    FROM plain_events WHERE (occurred_at AT TIME ZONE $3)::date BETWEEN $1::date AND $2::date
  ), top_values AS (
    SELECT v FROM ev GROUP BY v ORDER BY count(DISTINCT user_id) DESC, v IS NULL, v COLLATE "C" LIMIT 10
  ), top_types AS (
    SELECT event_type FROM ev GROUP BY event_type ORDER BY count(*) DESC, event_type COLLATE "C" LIMIT 10
  )
  SELECT event_type,
         CASE WHEN v IN (SELECT v FROM top_values) OR (v IS NULL AND EXISTS (SELECT 1 FROM top_values WHERE v IS NULL))
              THEN v ELSE '$other' END AS breakdown,
         count(*)::int AS count, count(DISTINCT user_id)::int AS unique_users
  FROM ev WHERE event_type IN (SELECT event_type FROM top_types)
  GROUP BY 1, 2`;

interface Case {
  name: string;
  target: boolean;
  /** The route asked (GET, the `default` project), or several asked one after the other. */
  urls: string[];
  sql?: { text: string; params: unknown[] };
  /** The route's answer and the SQL rows in the shape compared. */
  shape?: (ours: unknown) => unknown;
  sqlShape?: (rows: Record<string, unknown>[]) => unknown;
}

const byTypeAndValue = (rows: Record<string, unknown>[]) =>
  rows.map((r) => `${r.event_type}|${r.breakdown}|${r.count}|${r.unique_users}`).sort();

function cases(): Case[] {
  const range = `from=${RANGE.from}&to=${RANGE.to}&tz=${encodeURIComponent(zone.name)}`;
  const funnel = `/stats/funnel?steps=${STEPS.join(',')}&window=${WINDOW_SECONDS / 86_400}d&${range}`;
  return [
    {
      name: 'funnel signup → activate → purchase, 7d',
      target: true,
      urls: [funnel],
      sql: {
        text: funnelSql,
        params: [...STEPS, WINDOW_SECONDS, zone.name, RANGE.from, RANGE.to],
      },
      shape: (f) => {
        const steps = (f as Funnel).steps;
        return [
          steps.map((s) => s.users),
          steps.slice(1).map((s) => s.median_seconds_from_previous),
        ];
      },
      sqlShape: ([r]) => [
        [r?.s1, r?.s2, r?.s3],
        [Number(r?.m2), Number(r?.m3)],
      ],
    },
    {
      name: 'DAU where=platform:ios',
      target: true,
      urls: [`/stats/dau?${range}&where=platform:ios`],
      sql: { text: dauSql, params: [RANGE.from, RANGE.to, zone.name, 'platform', 'ios'] },
      shape: (rows) => rows,
      sqlShape: (rows) => rows,
    },
    {
      name: 'top events breakdown=country',
      target: true,
      urls: [`/stats/top-events?${range}&breakdown=country`],
      sql: { text: topBreakdownSql, params: [RANGE.from, RANGE.to, zone.name, 'country'] },
      shape: (rows) => byTypeAndValue(rows as Record<string, unknown>[]),
      sqlShape: byTypeAndValue,
    },
    { name: 'funnel breakdown=platform', target: false, urls: [`${funnel}&breakdown=platform`] },
    { name: 'funnel where=plan:pro', target: false, urls: [`${funnel}&where=plan:pro`] },
    {
      name: 'DAU breakdown=country',
      target: false,
      urls: [`/stats/dau?${range}&breakdown=country`],
    },
    {
      name: 'top events where=platform:ios',
      target: false,
      urls: [`/stats/top-events?${range}&where=platform:ios`],
    },
    {
      name: 'active users where=platform:ios',
      target: false,
      urls: [`/stats/active-users?${range}&where=platform:ios`],
    },
    { name: 'properties (all types)', target: false, urls: [`/stats/properties?${range}`] },
    {
      name: 'user profile + first page of events',
      target: false,
      urls: ['/users/user_7', '/users/user_7/events'],
    },
  ];
}

/** The answer of each URL in turn (the last one's is returned); anything but a 200 stops the bench. */
async function ask(app: FastifyInstance, urls: string[]): Promise<unknown> {
  let answer: unknown;
  for (const url of urls) {
    const res = await app.inject(url);
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
    answer = res.json();
  }
  return answer;
}

async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await run();
  return { ms: performance.now() - started, value };
}

async function explainPlan(pool: pg.Pool, text: string, params: unknown[]): Promise<string> {
  const { rows } = await pool.query(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, params);
  return rows.map((r) => r['QUERY PLAN']).join('\n');
}

/**
 * How the app reaches the raw events: `server`, its work pools as server.ts opens them (the
 * raw-read pool without parallel workers, one query at a time); `parallel`, raw reads on a
 * pool whose queries may use parallel workers (what the engine was tuned with). The
 * statement timeout is off (STATEMENT_TIMEOUT_MS=0): slow runs are measured, not cut.
 */
const VARIANTS = {
  server: "the server's raw-read pool (no parallel workers)",
  parallel: 'a pool with parallel workers',
} as const;
type Variant = keyof typeof VARIANTS;
const variants = flag('pools', 'server,parallel').split(',') as Variant[];
for (const v of variants) if (!(v in VARIANTS)) throw new Error(`--pools: unknown ${v}`);

async function appFor(
  url: string,
  db: ReturnType<typeof createKysely>,
  pool: pg.Pool,
  variant: Variant,
): Promise<{ app: FastifyInstance; close: () => Promise<void> }> {
  const config = loadConfig({ STATEMENT_TIMEOUT_MS: '0' });
  const work = createWorkPools(url, config);
  const parallel = variant === 'parallel' ? createKysely(createPool(url, { max: 1 })) : undefined;
  const app = await buildApp({
    config,
    db,
    pool,
    work: parallel ? { ...work, rawReads: parallel } : work,
    logStream: new Writable({ write: (_chunk, _encoding, done) => done() }),
  });
  await app.ready();
  return {
    app,
    close: async () => {
      await app.close();
      await closeWorkPools(work);
      await parallel?.destroy();
    },
  };
}

const report: string[] = [];
for (const rows of sizes) {
  const url = await load(rows);
  const pool = createPool(url, { max: 4 });
  const db = createKysely(createPool(url, { max: 10 }));
  const sqlRuns = Number(flag('sql-runs', rows >= 5_000_000 ? '1' : '3'));
  const stored = (await pool.query('SELECT count(*)::int AS n FROM events')).rows[0].n;
  for (const variant of variants) {
    const { app, close } = await appFor(url, db, pool, variant);
    const out: (string | number)[][] = [];
    const [loadBefore = 0] = loadavg();
    for (const c of cases().filter((x) => extras || x.target)) {
      await ask(app, c.urls); // warm the cache
      // The route's and the SQL's runs alternate, so both see the same load on a shared machine.
      const ours: number[] = [];
      const sqlTimes: number[] = [];
      let answer: unknown;
      let sqlRows: Record<string, unknown>[] = [];
      for (let i = 0; i < Math.max(runs, c.sql ? sqlRuns : 0); i++) {
        if (i < runs) {
          const t = await timed(() => ask(app, c.urls));
          ours.push(t.ms);
          answer = t.value;
        }
        if (c.sql && i < sqlRuns) {
          const t = await timed(() => pool.query(c.sql?.text ?? '', c.sql?.params));
          sqlTimes.push(t.ms);
          sqlRows = t.value.rows;
        }
      }
      let sqlMedian = '';
      let ratio = '';
      let same = '';
      if (c.sql) {
        const equal = isDeepStrictEqual(c.shape?.(answer), c.sqlShape?.(sqlRows));
        if (!equal) {
          process.stderr.write(
            `MISMATCH in ${c.name}:\n${JSON.stringify(c.shape?.(answer))}\n${JSON.stringify(c.sqlShape?.(sqlRows))}\n`,
          );
        }
        same = equal ? 'yes' : 'NO';
        sqlMedian = median(sqlTimes).toFixed(0);
        ratio = `${(median(sqlTimes) / median(ours)).toFixed(1)}x`;
        if (explain)
          report.push(
            `### ${c.name}, straightforward SQL, ${rows} rows\n\n\`\`\`\n${await explainPlan(pool, c.sql.text, c.sql.params)}\n\`\`\``,
          );
      }
      out.push([c.name, median(ours).toFixed(0), sqlMedian, ratio, same]);
      process.stderr.write(
        `${rows} ${variant} ${c.name}: ${median(ours).toFixed(0)} ms (sql ${sqlMedian})\n`,
      );
    }
    report.unshift(
      `## ${rows.toLocaleString('en')} rows requested; raw reads: ${VARIANTS[variant]}, ${stored.toLocaleString('en')} stored; ${RANGE.from}..${RANGE.to} in ${zone.name}; medians of ${runs} runs (SQL: ${sqlRuns}, alternating); ${server.describe}; 1-minute load average ${loadBefore.toFixed(1)} before, ${(loadavg()[0] ?? 0).toFixed(1)} after (2 cores)\n\n${table(
        ['question', 'route ms (HTTP)', 'straightforward SQL ms', 'SQL / route', 'same answer'],
        out,
      )}`,
    );
    await close();
  }
  await db.destroy();
  await pool.end();
}
process.stdout.write(`${report.join('\n\n')}\n`);
await server.stop();
