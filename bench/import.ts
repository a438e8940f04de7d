/**
 * Importer throughput, end to end (process start to exit, the compiled CLI the container
 * runs), on an empty database; then re-importing the same file (all duplicates); against
 * a baseline measured in the same run: a plain COPY of the same file into a table with the
 * original service's schema (uuid primary key + three btree indexes; no dedup, no summaries).
 * Also where the import's time goes: a dry run (CSV parsing and validation in Node alone)
 * and the time spent inside the SQL function ingest_events() (pg_stat_user_functions).
 *
 *   npm run bench:import -- [--sizes 50000,1000000 | --rows 10000000] [--runs 3]
 *                           [--reimport yes|no] [--batch-size N] [--in-flight N]
 *                           [--compare-cli OTHER/dist/cli/import-events.js]
 *
 * [--index-variant "CREATE INDEX ... ON events ..."] also imports, in each run, into a
 * database with that extra index: what the index costs the import (docs/exploration.md).
 *
 * --compare-cli also runs another build of the importer (say, the previous commit's) in
 * each run, for a before/after under the same load.
 *
 * [--profile yes|no]: the dry run beside each import.
 *
 * Defaults: 3 runs, a re-import and the dry run below 5M rows; from 5M on 1 run and
 * neither (10M rows then took 10.5 minutes on the shared 2-core machine).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { generate } from '../tools/gen-csv.js';
import { benchServer, flag, freshDatabase, median, table, withClient } from './lib.js';

const sizes = (process.argv.includes('--rows') ? flag('rows', '') : flag('sizes', '50000,1000000'))
  .split(',')
  .map(Number);
const large = (size: number) => size >= 5_000_000;
const runsFor = (size: number) => Number(flag('runs', large(size) ? '1' : '3'));
const reimportFor = (size: number) => flag('reimport', large(size) ? 'no' : 'yes') === 'yes';
const profileFor = (size: number) => flag('profile', large(size) ? 'no' : 'yes') === 'yes';
const cliFlags = ['batch-size', 'in-flight'].flatMap((name) =>
  process.argv.includes(`--${name}`) ? [`--${name}`, flag(name, '')] : [],
);

const compareCli = process.argv.includes('--compare-cli') ? flag('compare-cli', '') : undefined;
const CLI = 'dist/cli/import-events.js';
const indexVariant = process.argv.includes('--index-variant') ? flag('index-variant', '') : '';

execFileSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
const server = await benchServer();

interface ImportRun {
  seconds: number;
  peakRssMb: number;
  accepted: number;
}

function importOnce(file: string, url: string, extra: string[] = [], cli = CLI): ImportRun {
  const started = performance.now();
  const result = spawnSync(
    process.execPath,
    [cli, file, ...(cli === CLI ? cliFlags : []), ...extra],
    {
      env: { ...process.env, DATABASE_URL: url },
      encoding: 'utf8',
      maxBuffer: 1 << 30,
    },
  );
  const seconds = (performance.now() - started) / 1000;
  if (result.status !== 0) throw new Error(`import failed: ${result.stderr}`);
  const line = result.stdout.split('\n').find((l) => l.includes('import_complete')) ?? '';
  return {
    seconds,
    peakRssMb: Number(/peak_rss_mb=(\d+)/.exec(line)?.[1]),
    accepted: Number(/total_accepted=(\d+)/.exec(line)?.[1]),
  };
}

/**
 * Seconds spent inside ingest_events() in this database so far, summed over its calls
 * (two calls running at once both count), or undefined when the server does not let us
 * track functions.
 */
async function functionSeconds(url: string): Promise<number | undefined> {
  return withClient(url, async (c) => {
    const { rows } = await c.query(
      `SELECT sum(total_time)::float8 AS ms FROM pg_stat_user_functions WHERE funcname = 'ingest_events'`,
    );
    return rows[0]?.ms == null ? undefined : rows[0].ms / 1000;
  });
}

async function trackFunctions(url: string, name: string): Promise<void> {
  await withClient(url, (c) =>
    c.query(`ALTER DATABASE ${name} SET track_functions = 'pl'`).catch(() => undefined),
  );
}

async function plainCopy(file: string, url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`CREATE TABLE events (event_id uuid PRIMARY KEY, occurred_at timestamptz NOT NULL, user_id text NOT NULL,
    event_type text NOT NULL, properties jsonb NOT NULL DEFAULT '{}', received_at timestamptz NOT NULL DEFAULT now());
    CREATE INDEX ix_events_event_type ON events (event_type); CREATE INDEX ix_events_user_id ON events (user_id);
    CREATE INDEX ix_events_occurred_at ON events (occurred_at);`);
  const started = performance.now();
  await pipeline(
    createReadStream(file),
    client.query(
      copyFrom(
        'COPY events (event_id, occurred_at, user_id, event_type, properties) FROM STDIN (FORMAT csv, HEADER)',
      ),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  await client.end();
  return seconds;
}

const fmt = (seconds: number, size: number) =>
  `${seconds.toFixed(2)} s (${Math.round(size / seconds)} rows/s)`;
const throughputRows: (string | number)[][] = [];
const profileRows: (string | number)[][] = [];
for (const size of sizes) {
  const runs = runsFor(size);
  const file = `data/bench-import-${size}.csv`;
  if (!existsSync(file)) {
    process.stderr.write(`generating ${file}\n`);
    await generate({
      path: file,
      rows: size,
      seed: 42,
      users: Math.max(10, Math.round(size / 25)),
      start: '2025-10-01',
      days: 30,
      dupRate: 0,
    });
  }
  const first: number[] = [];
  const again: number[] = [];
  const copy: number[] = [];
  const dry: number[] = [];
  const inFunction: number[] = [];
  const rss: number[] = [];
  const other: number[] = [];
  const indexed: number[] = [];
  for (let run = 0; run < runs; run++) {
    if (indexVariant) {
      const vUrl = await freshDatabase(server.adminUrl, 'events_bench_import_index');
      await withClient(vUrl, (c) => c.query(indexVariant));
      const v = importOnce(file, vUrl);
      if (v.accepted !== size) throw new Error(`imported ${v.accepted} of ${size} rows`);
      indexed.push(v.seconds);
      process.stderr.write(
        `${size} rows, run ${run + 1}/${runs}: with the extra index ${v.seconds.toFixed(2)} s\n`,
      );
    }
    if (compareCli) {
      const otherUrl = await freshDatabase(server.adminUrl, 'events_bench_import');
      const o = importOnce(file, otherUrl, [], compareCli);
      if (o.accepted !== size) throw new Error(`${compareCli} imported ${o.accepted} of ${size}`);
      other.push(o.seconds);
      process.stderr.write(
        `${size} rows, run ${run + 1}/${runs}: ${compareCli} ${o.seconds.toFixed(2)} s\n`,
      );
    }
    const url = await freshDatabase(server.adminUrl, 'events_bench_import');
    await trackFunctions(url, 'events_bench_import');
    const a = importOnce(file, url);
    if (a.accepted !== size) throw new Error(`imported ${a.accepted} of ${size} rows`);
    const fnSeconds = await functionSeconds(url);
    const b = reimportFor(size) ? importOnce(file, url) : undefined;
    const baseUrl = await freshDatabase(server.adminUrl, 'events_bench_copy', false);
    const c = await plainCopy(file, baseUrl);
    const d = profileFor(size) ? importOnce(file, url, ['--dry-run']) : undefined;
    first.push(a.seconds);
    if (b) again.push(b.seconds);
    copy.push(c);
    if (d) dry.push(d.seconds);
    if (fnSeconds !== undefined) inFunction.push(fnSeconds);
    rss.push(a.peakRssMb, ...(b ? [b.peakRssMb] : []));
    process.stderr.write(
      `${size} rows, run ${run + 1}/${runs}: import ${a.seconds.toFixed(2)} s (in ingest_events ${fnSeconds?.toFixed(2) ?? '?'} s), ` +
        `re-import ${b ? `${b.seconds.toFixed(2)} s` : 'skipped'}, plain COPY ${c.toFixed(2)} s, dry run ${d ? `${d.seconds.toFixed(2)} s` : 'skipped'}, peak RSS ${a.peakRssMb} MB\n`,
    );
  }
  throughputRows.push([
    size,
    runs,
    fmt(median(first), size),
    again.length > 0 ? fmt(median(again), size) : 'not run',
    fmt(median(copy), size),
    (median(copy) / median(first)).toFixed(2),
    Math.max(...rss),
  ]);
  if (compareCli)
    throughputRows.push([
      `${size} (${compareCli})`,
      runs,
      fmt(median(other), size),
      'not run',
      fmt(median(copy), size),
      (median(copy) / median(other)).toFixed(2),
      '',
    ]);
  if (indexVariant)
    throughputRows.push([
      `${size} (with ${indexVariant})`,
      runs,
      fmt(median(indexed), size),
      'not run',
      fmt(median(copy), size),
      (median(copy) / median(indexed)).toFixed(2),
      '',
    ]);
  profileRows.push([
    size,
    `${median(first).toFixed(2)} s`,
    dry.length > 0
      ? `${median(dry).toFixed(2)} s (${Math.round((100 * median(dry)) / median(first))}%)`
      : 'not run',
    inFunction.length > 0
      ? `${median(inFunction).toFixed(2)} s (${Math.round((100 * median(inFunction)) / median(first))}%)`
      : 'not tracked',
  ]);
}
await server.stop();

console.log(`\nImport, medians of the runs, ${server.describe}\n`);
console.log(
  table(
    [
      'rows',
      'runs',
      'import (end to end)',
      're-import (all duplicates)',
      'baseline: plain COPY',
      'import vs COPY (rows/s ratio)',
      'peak RSS MB',
    ],
    throughputRows,
  ),
);
console.log('\nWhere the import time goes (medians)\n');
console.log(
  table(
    [
      'rows',
      'import (end to end)',
      'dry run: CSV parsing + validation in Node alone',
      'inside ingest_events(), summed over connections',
    ],
    profileRows,
  ),
);
