/**
 * Importer throughput, end to end (process start to exit, the compiled CLI the container
 * runs), on an empty database; then re-importing the same file (all duplicates); against
 * a baseline measured in the same run: a plain COPY of the same file into a table with the
 * original service's schema (uuid primary key + three btree indexes; no dedup, no summaries).
 *
 *   npm run bench:import -- [--sizes 50000,1000000] [--runs 3]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { generate } from '../tools/gen-csv.js';
import { benchServer, flag, freshDatabase, median, table } from './lib.js';

const sizes = flag('sizes', '50000,1000000').split(',').map(Number);
const runs = Number(flag('runs', '3'));

execFileSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
const server = await benchServer();

function importOnce(
  file: string,
  url: string,
): { seconds: number; peakRssMb: number; accepted: number } {
  const started = performance.now();
  const result = spawnSync(process.execPath, ['dist/cli/import-events.js', file], {
    env: { ...process.env, DATABASE_URL: url },
    encoding: 'utf8',
  });
  const seconds = (performance.now() - started) / 1000;
  if (result.status !== 0) throw new Error(`import failed: ${result.stderr}`);
  const line = result.stdout.split('\n').find((l) => l.includes('import_complete')) ?? '';
  return {
    seconds,
    peakRssMb: Number(/peak_rss_mb=(\d+)/.exec(line)?.[1]),
    accepted: Number(/total_accepted=(\d+)/.exec(line)?.[1]),
  };
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

const rowsOut: (string | number)[][] = [];
for (const size of sizes) {
  const file = `data/bench-import-${size}.csv`;
  if (!existsSync(file))
    await generate({
      path: file,
      rows: size,
      seed: 42,
      users: Math.max(10, Math.round(size / 25)),
      start: '2025-10-01',
      days: 30,
      dupRate: 0,
    });
  const first: number[] = [];
  const again: number[] = [];
  const copy: number[] = [];
  const rss: number[] = [];
  for (let run = 0; run < runs; run++) {
    const url = await freshDatabase(server.adminUrl, 'events_bench_import');
    const a = importOnce(file, url);
    if (a.accepted !== size) throw new Error(`imported ${a.accepted} of ${size} rows`);
    const b = importOnce(file, url);
    const baseUrl = await freshDatabase(server.adminUrl, 'events_bench_copy', false);
    const c = await plainCopy(file, baseUrl);
    first.push(a.seconds);
    again.push(b.seconds);
    copy.push(c);
    rss.push(a.peakRssMb, b.peakRssMb);
    process.stderr.write(
      `${size} rows, run ${run + 1}/${runs}: import ${a.seconds.toFixed(2)} s, re-import ${b.seconds.toFixed(2)} s, plain COPY ${c.toFixed(2)} s, peak RSS ${a.peakRssMb} MB\n`,
    );
  }
  const rate = (s: number) => Math.round(size / s);
  rowsOut.push([
    size,
    `${median(first).toFixed(2)} s (${rate(median(first))} rows/s)`,
    `${median(again).toFixed(2)} s (${rate(median(again))} rows/s)`,
    `${median(copy).toFixed(2)} s (${rate(median(copy))} rows/s)`,
    (median(copy) / median(first)).toFixed(2),
    (median(first) / median(again)).toFixed(2),
    Math.max(...rss),
  ]);
}
await server.stop();

console.log(`\nImport, medians of ${runs} runs, ${server.describe}\n`);
console.log(
  table(
    [
      'rows',
      'import (end to end)',
      're-import (all duplicates)',
      'baseline: plain COPY',
      'import vs COPY (rows/s ratio)',
      're-import speed-up',
      'peak RSS MB',
    ],
    rowsOut,
  ),
);
