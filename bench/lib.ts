/** Shared helpers for the benchmarks (never run as tests). */
import path from 'node:path';
import pg from 'pg';
import { normalizeDatabaseUrl } from '../src/config.js';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { createKysely, createPool } from '../src/db/pool.js';

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? (process.argv[i + 1] as string) : fallback;
}

export interface BenchServer {
  /** URL of a maintenance database on the server. */
  adminUrl: string;
  describe: string;
  stop(): Promise<void>;
}

/** BENCH_DATABASE_URL or DATABASE_URL when set, else embedded PostgreSQL 16 under .data/bench-postgres. */
export async function benchServer(): Promise<BenchServer> {
  const given = process.env.BENCH_DATABASE_URL || process.env.DATABASE_URL;
  if (given)
    return {
      adminUrl: normalizeDatabaseUrl(given),
      describe: 'PostgreSQL at DATABASE_URL',
      stop: async () => {},
    };
  const embedded = await startEmbeddedPostgres({
    dir: path.resolve('.data/bench-postgres'),
    port: 0,
    log: () => {},
  });
  const { rows } = await withClient(embedded.url, (c) => c.query('SHOW server_version'));
  return {
    adminUrl: embedded.url,
    describe: `embedded PostgreSQL ${rows[0].server_version}`,
    stop: embedded.stop,
  };
}

export function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function withClient<T>(url: string, run: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** Drops and recreates a database; `migrated` applies the service's migrations. */
export async function freshDatabase(
  adminUrl: string,
  name: string,
  migrated = true,
): Promise<string> {
  await withClient(adminUrl, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${name}`);
  });
  const url = databaseUrl(adminUrl, name);
  if (migrated) {
    const db = createKysely(createPool(url, { max: 1 }));
    await migrateToLatest(db);
    await db.destroy();
  }
  return url;
}

export function table(headers: string[], rows: (string | number)[][]): string {
  const lines = [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`];
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  return lines.join('\n');
}

/**
 * Loads a tools/gen-csv.ts file into the `default` project's events with COPY (no write
 * path: the summaries must be built afterwards, with analytics.rebuild_summaries()). The
 * rows get POST /events' family (the importer's). The file goes into a temporary table
 * first, because `events` has no partition for a week until one is created
 * (analytics.create_event_partitions), and every stored event needs its row in `event_ids`.
 */
export async function copyCsvIntoEvents(url: string, file: string): Promise<void> {
  const { createReadStream } = await import('node:fs');
  const { pipeline } = await import('node:stream/promises');
  const { from: copyFrom } = await import('pg-copy-streams');
  await withClient(url, async (c) => {
    await c.query('BEGIN');
    await c.query(`CREATE TEMP TABLE loaded (event_id uuid NOT NULL, occurred_at timestamptz NOT NULL,
      user_id text NOT NULL, event_type text NOT NULL, properties jsonb NOT NULL) ON COMMIT DROP`);
    const sink = c.query(
      copyFrom(
        'COPY loaded (event_id, occurred_at, user_id, event_type, properties) FROM STDIN WITH (FORMAT csv, HEADER true)',
      ),
    );
    await pipeline(createReadStream(file), sink);
    await c.query(
      'SELECT analytics.create_event_partitions(min(occurred_at), max(occurred_at)) FROM loaded',
    );
    await c.query(`INSERT INTO event_ids (project_id, source, event_id, occurred_at)
      SELECT 1, 1, event_id, occurred_at FROM loaded ORDER BY event_id`);
    await c.query(`INSERT INTO events (project_id, source, event_id, occurred_at, user_id, event_type, properties)
      SELECT 1, 1, event_id, occurred_at, user_id, event_type, properties FROM loaded`);
    await c.query('COMMIT');
  });
}

/**
 * Fills the `default` project with `events` generated in SQL (no CSV, no write path): spread
 * evenly over 2025 in UTC, `users` users, 20 event types, small properties; their dedup
 * rows; then, unless `summaries` is false, the summaries (analytics.rebuild_summaries()).
 * Quick enough for 10M rows on a small machine, which the write path is not.
 */
export async function generateEvents(
  url: string,
  options: { events: number; users: number; summaries?: boolean },
): Promise<void> {
  await withClient(url, async (c) => {
    await c.query(`SELECT analytics.create_event_partitions('2025-01-01', '2025-12-31')`);
    await c.query(
      `INSERT INTO events (project_id, source, event_id, occurred_at, user_id, event_type, properties)
       SELECT 1, 1, gen_random_uuid(),
              '2025-01-01'::timestamptz + (i::float8 / $1) * interval '364 days',
              'u' || (hashint4(i) & 2147483647) % $2, 't' || i % 20,
              jsonb_build_object('plan', CASE WHEN i % 3 = 0 THEN 'pro' ELSE 'free' END, 'n', i % 100)
       FROM generate_series(1, $1::int) AS i`,
      [options.events, options.users],
    );
    await c.query(
      'INSERT INTO event_ids (project_id, source, event_id, occurred_at) SELECT project_id, source, event_id, occurred_at FROM events',
    );
    await c.query('VACUUM ANALYZE events');
    await c.query('VACUUM ANALYZE event_ids');
    if (options.summaries !== false) {
      await c.query('SET statement_timeout = 0');
      await c.query('SELECT analytics.rebuild_summaries()');
      await c.query('ANALYZE');
    }
  });
}
