/**
 * Hostile load (issue 19): does ingest stay alive while others abuse the service?
 *
 *   npm run bench:abuse -- [--scenarios reads,bodies] [--seconds 20] [--rate 100]
 *                          [--readers 40] [--attackers 4] [--spread yes] [--rows 300000]
 *                          [--env K=V,...]
 *
 * The service runs as its own process with its defaults (AUTH=required), against
 * BENCH_DATABASE_URL / DATABASE_URL (else embedded PostgreSQL under .data/bench-postgres),
 * on a database `events_bench_abuse_<rows>` loaded once from tools/gen-csv.ts (120 days
 * ending today; summaries for UTC only) and reused by later runs.
 *
 * Each scenario first runs idle, then under attack, the same measurements in both:
 * 1-event POST /events at a fixed rate (`--rate` per second, an open loop: a slow answer
 * does not slow the offered load) and GET /healthz every 200 ms.
 *
 * - reads (finding 2): `--readers` concurrent loops of raw-path /stats (a zone without
 *   summaries: retention-matrix over 90 days with windows=30, active-users over 366 days,
 *   dau and top-events over 3660 days), each sending its next request as soon as it has
 *   an answer.
 * - bodies (finding 1): `--attackers` concurrent loops posting ~10 MB SDK bodies of tiny
 *   messages (`{"batch":[{},{},...]}`, 3.4M messages) without a key to /v1/batch,
 *   /2/httpapi, /e/ (as text/plain) and /batch/, each loop from an address of its own
 *   (`--spread yes`: each request from a new address, as a distributed attacker would).
 *
 * Targets: 100% of the 1-event requests succeed under attack, their p99 within 3x of the
 * idle run's, every /healthz answers 200 within 100 ms; for bodies, every attack refused
 * (401; 429 once its address has spent its budget) and the server's RSS back within 20%
 * of its start.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { createKey } from '../src/auth/keys.js';
import { createKysely, createPool } from '../src/db/pool.js';
import { formatDay, today } from '../src/stats/dates.js';
import { generate } from '../tools/gen-csv.js';
import { startServer } from './clients-server.js';
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

const scenarios = flag('scenarios', 'reads,bodies').split(',');
const seconds = Number(flag('seconds', '20'));
const rate = Number(flag('rate', '100'));
const readerCount = Number(flag('readers', '40'));
const attackerCount = Number(flag('attackers', '4'));
/** bodies: every attack request from an address of its own (a distributed attacker). */
const spread = flag('spread', 'no') === 'yes';
const rows = Number(flag('rows', '300000'));
const extraEnv = Object.fromEntries(
  flag('env', '')
    .split(',')
    .filter(Boolean)
    .map((kv) => kv.split('=') as [string, string]),
);
/** A zone that is not a reporting zone here: every question reads raw events. */
const RAW_ZONE = 'America/Sao_Paulo';

const server = await benchServer();
const name = `events_bench_abuse_${rows}`;
const url = databaseUrl(server.adminUrl, name);
await loadDataSet();
const writeKey = await withClient(url, async () => {
  const db = createKysely(createPool(url, { max: 1 }));
  try {
    return (await createKey(db, 1, `bench-abuse-${randomUUID().slice(0, 8)}`, 'write'))?.key ?? '';
  } finally {
    await db.destroy();
  }
});
const readKey = await (async () => {
  const db = createKysely(createPool(url, { max: 1 }));
  try {
    return (
      (await createKey(db, 1, `bench-abuse-read-${randomUUID().slice(0, 8)}`, 'read'))?.key ?? ''
    );
  } finally {
    await db.destroy();
  }
})();

/** One data set per size, reused: 120 days ending today, summaries for UTC only. */
async function loadDataSet(): Promise<void> {
  const loaded = await withClient(server.adminUrl, async (c) => {
    const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) return false;
    return withClient(url, async (d) => {
      const marker = await d.query(`SELECT to_regclass('bench_dataset') IS NOT NULL AS ok`);
      return Boolean(marker.rows[0].ok);
    });
  });
  if (loaded) return;
  const file = `data/bench-abuse-${rows}.csv`;
  const days = 120;
  if (!existsSync(file)) {
    process.stderr.write(`generating ${file}\n`);
    await generate({
      path: file,
      rows,
      seed: 19,
      users: Math.max(10, Math.round(rows / 25)),
      start: formatDay(today('UTC') - days),
      days,
      dupRate: 0,
    });
  }
  await freshDatabase(server.adminUrl, name);
  process.stderr.write(`loading ${file} into ${name}\n`);
  await copyCsvIntoEvents(url, file);
  await withClient(url, async (c) => {
    await c.query('SELECT analytics.rebuild_summaries()');
    await c.query('VACUUM ANALYZE');
    await c.query(`CREATE TABLE bench_dataset AS SELECT ${rows} AS rows`);
  });
}

// One keep-alive agent per kind of client, so the attackers' connections are their own.
const writerAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const healthAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
const attackAgent = new http.Agent({
  keepAlive: true,
  maxSockets: readerCount + attackerCount + 4,
});

interface Sample {
  ms: number;
  status: number;
}

interface Init {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  dispatcher: http.Agent;
  /** The client's address (any 127.x is this host). */
  localAddress?: string;
}

/** One request; its answer's status (0 when it failed) and how long it took. */
function timed(input: string, init: Init): Promise<Sample> {
  const started = performance.now();
  return new Promise((resolve) => {
    const done = (status: number) => resolve({ ms: performance.now() - started, status });
    const req = http.request(
      input,
      {
        method: init.method ?? 'GET',
        headers: init.headers,
        // A client address of its own needs a connection of its own.
        ...(init.localAddress
          ? { localAddress: init.localAddress, agent: false }
          : { agent: init.dispatcher }),
      },
      (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode ?? 0));
        res.on('error', () => done(0));
      },
    );
    req.on('error', () => done(0));
    req.end(init.body);
  });
}

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** 1-event POST /events at `rate` per second and /healthz every 200 ms, for `seconds`. */
async function measure(base: string): Promise<{ writes: Sample[]; health: Sample[] }> {
  const writes: Promise<Sample>[] = [];
  const health: Promise<Sample>[] = [];
  const started = performance.now();
  const end = started + seconds * 1000;
  let next = started;
  let nextHealth = started;
  while (performance.now() < end) {
    const now = performance.now();
    while (next <= now) {
      next += 1000 / rate;
      const body = JSON.stringify([
        {
          event_id: randomUUID(),
          occurred_at: new Date().toISOString(),
          user_id: `writer-${writes.length % 500}`,
          event_type: 'bench_abuse',
        },
      ]);
      writes.push(
        timed(`${base}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${writeKey}` },
          body,
          dispatcher: writerAgent,
        }),
      );
    }
    if (nextHealth <= now) {
      nextHealth += 200;
      health.push(timed(`${base}/healthz`, { dispatcher: healthAgent }));
    }
    await sleep(Math.max(0, Math.min(next, nextHealth) - performance.now()));
  }
  return { writes: await Promise.all(writes), health: await Promise.all(health) };
}

/** Loops `count` attackers over `request` until `stop()`; returns their samples. */
function attack(
  count: number,
  request: (i: number) => Promise<Sample>,
): { stop: () => Promise<Sample[]> } {
  let running = true;
  const samples: Sample[] = [];
  const loops = Array.from({ length: count }, async (_, loop) => {
    for (let i = loop; running; i += count) samples.push(await request(i));
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return samples;
    },
  };
}

const readerPaths = (() => {
  const end = formatDay(today('UTC') - 1);
  const tz = `tz=${encodeURIComponent(RAW_ZONE)}`;
  const back = (days: number) => formatDay(today('UTC') - days);
  return [
    `/stats/retention-matrix?from=${back(91)}&to=${end}&windows=30&${tz}`,
    `/stats/active-users?from=${back(366)}&to=${end}&${tz}`,
    `/stats/dau?from=${back(3660)}&to=${end}&${tz}`,
    `/stats/top-events?from=${back(3660)}&to=${end}&${tz}`,
  ];
})();

const tinyMessages = (n: number, member: string) =>
  Buffer.from(`{"${member}":[${'{},'.repeat(n - 1)}{}]}`);
const MESSAGES = 3_400_000;
const bodies = {
  segment: tinyMessages(MESSAGES, 'batch'),
  amplitude: tinyMessages(MESSAGES, 'events'),
  posthog: tinyMessages(MESSAGES, 'batch'),
  posthogJs: Buffer.from(`[${'{},'.repeat(MESSAGES - 1)}{}]`),
};
const attacks: { path: string; type: string; body: Buffer; key?: string }[] = [
  { path: '/v1/batch', type: 'application/json', body: bodies.segment },
  { path: '/2/httpapi', type: 'application/json', body: bodies.amplitude },
  { path: '/e/', type: 'text/plain', body: bodies.posthogJs },
  { path: '/batch/', type: 'application/json', body: bodies.posthog },
];

interface Row {
  scenario: string;
  run: string;
  writes: Sample[];
  health: Sample[];
  attack?: Sample[];
  rss?: { start: number; peak: number; end: number };
}
const results: Row[] = [];

async function scenario(label: string, start: (base: string) => { stop: () => Promise<Sample[]> }) {
  const service = await startServer({
    databaseUrl: url,
    env: { AUTH: 'required', LOG_LEVEL: 'warn', ...extraEnv },
    built: false,
    cpuProfDir: undefined,
  });
  try {
    // Warm up: the first requests of a process compile code paths.
    await measureQuietly(service.url);
    const idle = await measure(service.url);
    results.push({ scenario: label, run: 'idle', ...idle });
    const rssStart = rssMb(service.pid);
    let peak = rssStart;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMb(service.pid));
    }, 100);
    const attackers = start(service.url);
    await sleep(2000); // the attack is under way before the measurement starts
    const loaded = await measure(service.url);
    const attackSamples = await attackers.stop();
    // Quiet again: memory the attack took must be given back.
    await sleep(5000);
    clearInterval(sampler);
    const rss = { start: rssStart, peak, end: rssMb(service.pid) };
    results.push({ scenario: label, run: 'under attack', ...loaded, attack: attackSamples, rss });
  } finally {
    await service.stop();
  }
}

async function measureQuietly(base: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    await timed(`${base}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${writeKey}` },
      body: JSON.stringify([
        {
          event_id: randomUUID(),
          occurred_at: new Date().toISOString(),
          user_id: 'warm-up',
          event_type: 'bench_abuse',
        },
      ]),
      dispatcher: writerAgent,
    });
  }
}

if (scenarios.includes('reads')) {
  await scenario(`reads: ${readerCount} raw-path /stats readers`, (base) =>
    attack(readerCount, (i) =>
      timed(`${base}${readerPaths[i % readerPaths.length]}`, {
        headers: { authorization: `Bearer ${readKey}` },
        dispatcher: attackAgent,
      }),
    ),
  );
}
if (scenarios.includes('bodies')) {
  const who = spread ? 'each request from a new address' : 'each loop from its own address';
  await scenario(
    `bodies: ${attackerCount} loops of 10 MB SDK bodies without a key (${who})`,
    (base) => {
      const anonymous = attack(attackerCount, (i) => {
        const a = attacks[i % attacks.length] as (typeof attacks)[number];
        // Each loop from an address of its own, or (--spread yes) each request.
        const n = spread ? 1000 + i : 1 + (i % attackerCount);
        return timed(`${base}${a.path}`, {
          method: 'POST',
          headers: { 'content-type': a.type },
          body: a.body,
          dispatcher: attackAgent,
          localAddress: `127.1.${Math.floor(n / 250)}.${1 + (n % 250)}`,
        });
      });
      return anonymous;
    },
  );
}

const ok = (s: Sample[]) => s.filter((x) => x.status >= 200 && x.status < 300).length;
const p = (s: Sample[], q: number) =>
  s.length
    ? percentile(
        s.map((x) => x.ms),
        q,
      )
    : Number.NaN;
const f = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
const statuses = (s: Sample[]) => {
  const counts = new Map<number, number>();
  for (const x of s) counts.set(x.status, (counts.get(x.status) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => a[0] - b[0])
    .map(([status, n]) => `${n}×${status}`)
    .join(' ');
};

const lines: string[] = [];
lines.push(
  `bench:abuse on ${server.describe}, ${rows} events, ${seconds} s per run, ${rate} writes/s offered`,
);
lines.push('');
lines.push(
  table(
    [
      'scenario',
      'run',
      '1-event POST /events ok',
      'p50 ms',
      'p99 ms',
      'p99 ÷ idle p99',
      '/healthz 200',
      '/healthz max ms',
      'attack answers',
      'attack p50 / max ms',
      'RSS start / peak / 5 s after MB',
    ],
    results.map((r) => {
      const idle = results.find((x) => x.scenario === r.scenario && x.run === 'idle');
      const ratio = idle ? p(r.writes, 99) / p(idle.writes, 99) : Number.NaN;
      return [
        r.scenario,
        r.run,
        `${ok(r.writes)}/${r.writes.length} (${f((100 * ok(r.writes)) / r.writes.length)}%)`,
        f(p(r.writes, 50)),
        f(p(r.writes, 99)),
        r.run === 'idle' ? '1.00' : ratio.toFixed(2),
        `${r.health.filter((x) => x.status === 200).length}/${r.health.length}`,
        f(Math.max(...r.health.map((x) => x.ms))),
        r.attack ? statuses(r.attack) : '',
        r.attack
          ? `${f(median(r.attack.map((x) => x.ms)))} / ${f(Math.max(...r.attack.map((x) => x.ms)))}`
          : '',
        r.rss ? `${f(r.rss.start)} / ${f(r.rss.peak)} / ${f(r.rss.end)}` : '',
      ];
    }),
  ),
);
lines.push('');
for (const r of results.filter((x) => x.run !== 'idle')) {
  const idle = results.find((x) => x.scenario === r.scenario && x.run === 'idle') as Row;
  const verdicts = [
    ['every write succeeded', ok(r.writes) === r.writes.length],
    ['write p99 within 3x idle', p(r.writes, 99) <= 3 * p(idle.writes, 99)],
    ['every /healthz 200 within 100 ms', r.health.every((x) => x.status === 200 && x.ms <= 100)],
  ] as [string, boolean][];
  if (r.rss && r.scenario.startsWith('bodies')) {
    verdicts.push(['RSS back within 20% of start', r.rss.end <= r.rss.start * 1.2]);
    verdicts.push([
      // 429 once its address has spent its budget, with the connection closed before the
      // body is read (a client still sending it sees the connection end: status 0).
      'every attack refused (401, or 429 / closed once its address has spent its budget)',
      (r.attack ?? []).every((x) => [401, 429, 0].includes(x.status)),
    ]);
  }
  lines.push(
    `${r.scenario}: ${verdicts.map(([what, met]) => `${what}: ${met ? 'yes' : 'NO'}`).join('; ')}`,
  );
}
process.stdout.write(`${lines.join('\n')}\n`);
for (const agent of [writerAgent, healthAgent, attackAgent]) agent.destroy();
await server.stop();
