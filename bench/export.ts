/**
 * bench:export: throughput of the export (docs/lifecycle.md#export) against a plain
 * `COPY ... TO STDOUT` of the same rows in the same order, in the same run.
 *
 *   npm run bench:export [-- --events 1000000 --runs 3]
 *
 * The `default` project gets --events events generated in SQL; then, --runs times each
 * (median reported): COPY of the same columns as CSV, the export's CSV and NDJSON read
 * straight from the generator (src/lifecycle/export.ts), and GET /events/export over HTTP
 * (CSV) from a listening app. Each output goes to a sink that counts bytes. Peak RSS of
 * this process (which also runs the app) is sampled during each run.
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { to as copyTo } from 'pg-copy-streams';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createKysely, createPool } from '../src/db/pool.js';
import { exportText } from '../src/lifecycle/export.js';
import {
  benchServer,
  databaseUrl,
  flag,
  freshDatabase,
  generateEvents,
  median,
  table,
  withClient,
} from './lib.js';

const EVENTS = Number(flag('events', '1000000'));
const RUNS = Number(flag('runs', '3'));

function sink(): { stream: Writable; bytes: () => number } {
  let bytes = 0;
  return {
    stream: new Writable({
      write(chunk, _e, done) {
        bytes += chunk.length;
        done();
      },
    }),
    bytes: () => bytes,
  };
}

/** Runs `work` and samples this process's RSS every 20 ms: seconds and peak MB. */
async function measured(work: () => Promise<number>) {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const started = performance.now();
  const bytes = await work();
  const seconds = (performance.now() - started) / 1000;
  clearInterval(timer);
  return { seconds, peakMb: Math.max(peak, process.memoryUsage().rss) / 1024 / 1024, bytes };
}

async function main() {
  const server = await benchServer();
  // The data of a previous run is reused when it has the same size (generating takes a while).
  const existing = databaseUrl(server.adminUrl, 'bench_export');
  const stored = await withClient(existing, (c) =>
    c.query<{ n: number }>('SELECT count(*)::int AS n FROM events'),
  ).then(
    (r) => r.rows[0]?.n,
    () => undefined,
  );
  let url = existing;
  if (stored !== EVENTS) {
    url = await freshDatabase(server.adminUrl, 'bench_export');
    process.stdout.write(`${server.describe}; generating ${EVENTS} events...\n`);
    const t0 = performance.now();
    await generateEvents(url, { events: EVENTS, users: 50_000, summaries: false });
    process.stdout.write(`generated in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }

  const pool = createPool(url, { max: 4 });
  const app = await buildApp({
    config: { ...loadConfig({}), logLevel: 'warn', maintenanceIntervalS: 0 },
    db: createKysely(pool),
    pool,
  });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const query = { projectId: 1, fromAt: undefined, toAt: undefined };

  const ways: Record<string, () => Promise<number>> = {
    'COPY ... TO STDOUT (csv)': () =>
      withClient(url, async (c) => {
        const out = sink();
        await pipeline(
          c.query(
            copyTo(`COPY (SELECT event_id, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                           user_id, event_type, properties::text
                         FROM events WHERE project_id = 1 ORDER BY occurred_at, source, event_id)
                    TO STDOUT WITH (FORMAT csv, HEADER true)`),
          ),
          out.stream,
        );
        return out.bytes();
      }),
    'export generator, CSV': async () => {
      const out = sink();
      let bytes = 0;
      for await (const text of exportText(pool, query, 'csv')) bytes += Buffer.byteLength(text);
      out.stream.end();
      return bytes;
    },
    'export generator, NDJSON': async () => {
      let bytes = 0;
      for await (const text of exportText(pool, query, 'ndjson')) bytes += Buffer.byteLength(text);
      return bytes;
    },
    'GET /events/export over HTTP, CSV': async () => {
      const res = await fetch(`${address}/events/export`, { headers: { accept: 'text/csv' } });
      let bytes = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
        bytes += chunk.length;
      return bytes;
    },
  };

  const results: Record<string, { seconds: number[]; peak: number[]; bytes: number }> = {};
  for (let run = 0; run < RUNS; run++) {
    for (const [name, work] of Object.entries(ways)) {
      const m = await measured(work);
      const r = results[name] ?? { seconds: [], peak: [], bytes: 0 };
      results[name] = r;
      r.seconds.push(m.seconds);
      r.peak.push(m.peakMb);
      r.bytes = m.bytes;
      process.stdout.write(
        `run ${run + 1} ${name}: ${m.seconds.toFixed(2)} s, peak RSS ${m.peakMb.toFixed(0)} MB\n`,
      );
    }
  }
  const copySeconds = median(results['COPY ... TO STDOUT (csv)']?.seconds ?? [1]);
  const rows = Object.entries(results).map(([name, r]) => {
    const s = median(r.seconds);
    return [
      name,
      s.toFixed(2),
      Math.round(EVENTS / s).toLocaleString('en-US'),
      (copySeconds / s).toFixed(2),
      (r.bytes / 1024 / 1024).toFixed(0),
      Math.max(...r.peak).toFixed(0),
    ];
  });
  process.stdout.write(
    `\n${EVENTS.toLocaleString('en-US')} events, ${server.describe}, median of ${RUNS}\n\n${table(
      ['way', 'seconds', 'events/s', 'speed vs COPY', 'MB out', 'peak RSS MB'],
      rows,
    )}\n`,
  );
  await app.close();
  await pool.end();
  await server.stop();
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
