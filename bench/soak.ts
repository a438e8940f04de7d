/**
 * Soak: mixed ingest + stats against a real server process at about half its measured
 * maximum, for a long time; reports the server's RSS (start, after warm-up, end), p99
 * latency per endpoint and errors. Target: RSS growth under 10% after warm-up, no errors.
 *
 *   npm run bench:soak -- [--duration 300] [--calibrate 20] [--load 0.5] [--concurrency 16]
 *
 * Uses BENCH_DATABASE_URL / DATABASE_URL when set, else embedded PostgreSQL under
 * .data/bench-postgres (a fresh database `events_bench_soak` either way).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { benchServer, flag, freshDatabase, percentile, table, withClient } from './lib.js';

const durationS = Number(flag('duration', '300'));
const calibrateS = Number(flag('calibrate', '20'));
const load = Number(flag('load', '0.5'));
const concurrency = Number(flag('concurrency', '16'));
/** Warm-up: the first fifth of the soak (at most 60 s); RSS growth is measured after it. */
const warmupS = Math.min(60, durationS / 5);
const TYPES = ['view', 'click', 'login', 'search', 'purchase', 'signup', 'share', 'logout'];
const ZONES = ['UTC', 'Europe/Kyiv', 'America/New_York', 'Asia/Tokyo'];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

const random = (n: number) => Math.floor(Math.random() * n);
const day = (offset: number) => new Date(Date.UTC(2025, 9, 1 + offset)).toISOString().slice(0, 10);

let posted = 0;
/** One request of the mix: 60% small ingest batches (as SDKs send), 40% stats. */
function nextRequest(): { endpoint: string; url: string; init?: RequestInit } {
  const r = Math.random();
  if (r < 0.6) {
    const events = Array.from({ length: 1 + random(20) }, () => ({
      event_id: randomUUID(),
      occurred_at: new Date(
        Date.UTC(2025, 9, 1 + random(30), random(24), random(60)),
      ).toISOString(),
      user_id: `user_${random(5000)}`,
      event_type: TYPES[random(TYPES.length)] as string,
      properties: { page: `/p/${random(50)}`, n: random(1000) },
    }));
    posted += events.length;
    return {
      endpoint: 'POST /events',
      url: '/events',
      init: {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(events),
      },
    };
  }
  const zone = Math.random() < 0.25 ? ZONES[random(ZONES.length)] : undefined;
  const tz = zone ? `&tz=${zone}` : '';
  // Non-UTC days read raw events, UTC days the summaries: reported apart.
  const kind = zone && zone !== 'UTC' ? ' (tz)' : '';
  const from = random(20);
  const to = from + random(10);
  if (r < 0.75)
    return {
      endpoint: `GET /stats/dau${kind}`,
      url: `/stats/dau?from=${day(from)}&to=${day(to)}${tz}`,
    };
  if (r < 0.9) {
    return {
      endpoint: `GET /stats/top-events${kind}`,
      url: `/stats/top-events?from=${day(from)}&to=${day(to)}&limit=${1 + random(20)}${tz}`,
    };
  }
  return {
    endpoint: `GET /stats/retention${kind}`,
    url: `/stats/retention?start_date=${day(from)}&windows=${random(14)}${tz}`,
  };
}

interface Sample {
  endpoint: string;
  ms: number;
  ok: boolean;
}

async function send(base: string): Promise<Sample> {
  const { endpoint, url, init } = nextRequest();
  const started = performance.now();
  try {
    const res = await fetch(`${base}${url}`, init);
    await res.arrayBuffer();
    return { endpoint, ms: performance.now() - started, ok: res.status < 300 };
  } catch {
    return { endpoint, ms: performance.now() - started, ok: false };
  }
}

/** Closed loop: `concurrency` clients back to back; returns requests per second. */
async function calibrate(base: string, seconds: number): Promise<number> {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        await send(base);
        done++;
      }
    }),
  );
  return done / seconds;
}

/** Open loop at `rate` requests per second (new requests start on schedule, up to 256 in flight). */
async function soak(base: string, rate: number, seconds: number, pid: number) {
  const samples: Sample[] = [];
  const rss: { t: number; mb: number }[] = [{ t: 0, mb: rssMb(pid) }];
  const started = performance.now();
  let inFlight = 0;
  let skipped = 0;
  const pending = new Set<Promise<void>>();
  let lastRss = 0;
  for (let i = 0; ; i++) {
    const due = started + (i / rate) * 1000;
    const now = performance.now();
    if (due - started > seconds * 1000) break;
    if (due > now) await new Promise((r) => setTimeout(r, due - now));
    const t = (performance.now() - started) / 1000;
    if (t - lastRss >= 5) {
      rss.push({ t, mb: rssMb(pid) });
      lastRss = t;
    }
    if (inFlight >= 256) {
      skipped++;
      continue;
    }
    inFlight++;
    const p = send(base).then((s) => {
      samples.push(s);
      inFlight--;
    });
    pending.add(p);
    void p.then(() => pending.delete(p));
  }
  await Promise.all(pending);
  rss.push({ t: (performance.now() - started) / 1000, mb: rssMb(pid) });
  return { samples, rss, skipped, elapsedS: (performance.now() - started) / 1000 };
}

const db = await benchServer();
let server: ChildProcess | undefined;
try {
  const url = await freshDatabase(db.adminUrl, 'events_bench_soak');
  const port = await freePort();
  server = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: {
      ...process.env,
      DATABASE_URL: url,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (i > 600) throw new Error('the server did not start within 60 s');
    const up = await fetch(`${base}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const pid = server.pid as number;
  console.log(`soak: ${db.describe}; server pid ${pid}; RSS at start ${rssMb(pid).toFixed(1)} MB`);
  const maxRate = await calibrate(base, calibrateS);
  const rate = maxRate * load;
  console.log(
    `soak: measured maximum ${maxRate.toFixed(0)} req/s (${concurrency} clients, ${calibrateS} s); running ${durationS} s at ${rate.toFixed(0)} req/s`,
  );
  const result = await soak(base, rate, durationS, pid);

  const endpoints = [...new Set(result.samples.map((s) => s.endpoint))].sort();
  const rows = endpoints.map((endpoint) => {
    const of = result.samples.filter((s) => s.endpoint === endpoint);
    const ms = of.map((s) => s.ms);
    return [
      endpoint,
      of.length,
      percentile(ms, 50).toFixed(1),
      percentile(ms, 99).toFixed(1),
      of.filter((s) => !s.ok).length,
    ];
  });
  const afterWarmup = result.rss.find((r) => r.t >= warmupS) ?? result.rss[0];
  const end = result.rss.at(-1);
  const growth =
    afterWarmup && end ? ((end.mb - afterWarmup.mb) / afterWarmup.mb) * 100 : Number.NaN;
  const stored = await withClient(url, (c) => c.query('SELECT count(*)::int AS n FROM events'));
  const errors = result.samples.filter((s) => !s.ok).length;
  console.log(
    `\n${table(['endpoint', 'requests', 'p50 ms', 'p99 ms', 'errors'], rows)}\n\n` +
      table(
        [
          'RSS at start MB',
          `RSS after warm-up (${warmupS.toFixed(0)} s) MB`,
          'RSS at end MB',
          'growth after warm-up',
          'max RSS MB',
        ],
        [
          [
            (result.rss[0]?.mb ?? 0).toFixed(1),
            (afterWarmup?.mb ?? 0).toFixed(1),
            (end?.mb ?? 0).toFixed(1),
            `${growth.toFixed(1)}%`,
            Math.max(...result.rss.map((r) => r.mb)).toFixed(1),
          ],
        ],
      ) +
      `\n\nrequests ${result.samples.length} in ${result.elapsedS.toFixed(0)} s (${(result.samples.length / result.elapsedS).toFixed(0)} req/s, target ${rate.toFixed(0)}; ${result.skipped} not sent: 256 in flight); errors ${errors}; events posted ${posted}, stored ${stored.rows[0].n}`,
  );
  const verdict = errors === 0 && growth < 10;
  console.log(verdict ? 'soak: PASS (no errors, RSS growth under 10%)' : 'soak: FAIL');
  process.exitCode = verdict ? 0 : 1;
} finally {
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server?.once('exit', r));
  }
  await db.stop();
}
