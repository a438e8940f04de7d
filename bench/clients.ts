/**
 * Real-client ingest: a separate server process under 64 concurrent connections for 15 s
 * per case, every event new, against a baseline measured in the same run: pgbench
 * inserting one row per transaction into the original schema with 16 clients.
 *
 *   (a) events:  one-event POST /events
 *   (b) segment: 15-event POST /v1/batch, Segment's shape
 *   (c) posthog: 100-event POST /batch/, gzip, PostHog's shape
 *
 * After each case the stored rows are read back by id and matched with the events the
 * server acknowledged with a 2xx: none may be missing, none stored twice.
 *
 *   npm run bench:clients -- [--duration 15] [--connections 64] [--runs 1]
 *     [--cases events,segment,posthog] [--pgbench-clients 16] [--built]
 *     [--env KEY=VALUE,...]          server environment for the main run (default: defaults)
 *     [--sweep [CONFIGS]]            instead: one server per config, CONFIGS "K=V,K=V;K=V;..."
 *     [--cpu-prof DIR]               write a V8 CPU profile of the server into DIR
 *     [--calibrate]                  also measure the load generator against a no-op server
 *     [--pg-cost]                    also PostgreSQL CPU per write call by batch size
 *     [--at-target]                  also latency at the target rates: (a) at 0.5x pgbench tps,
 *                                    (b) at 20k events/s (offered load, not as fast as answered)
 *     [--keep-db]                    keep the scratch database for a look afterwards
 *
 * PostgreSQL: BENCH_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres (the
 * machine's PostgreSQL 15); the scratch database events_bench_clients is dropped at the end.
 * pgbench must be on PATH.
 */

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpus } from 'node:os';
import pg from 'pg';
import {
  IdSpace,
  oneEvent,
  posthogBatch,
  type RequestFactory,
  segmentBatch,
} from './clients-bodies.js';
import { CpuMeter, type CpuShares } from './clients-cpu.js';
import { checkStored, Ledger, type LoadResult, runLoad, type StoredCheck } from './clients-load.js';
import { measurePgCost } from './clients-pg-cost.js';
import { type PgbenchResult, PLAIN_SCHEMA, runPgbench } from './clients-pgbench.js';
import { startServer } from './clients-server.js';
import { databaseUrl, flag, freshDatabase, median, table, withClient } from './lib.js';

const CASES = {
  events: { label: '(a) POST /events, 1 event', make: (ids: IdSpace) => oneEvent(ids) },
  segment: {
    label: '(b) POST /v1/batch, 15 events (Segment)',
    make: (ids: IdSpace) => segmentBatch(ids, 15, 'bench_write_key'),
  },
  posthog: {
    label: '(c) POST /batch/ gzip, 100 events (PostHog)',
    make: (ids: IdSpace) => posthogBatch(ids, 100, 'bench_write_key'),
  },
} satisfies Record<string, { label: string; make: (ids: IdSpace) => RequestFactory }>;
type CaseName = keyof typeof CASES;

/** The knobs tried by --sweep with no list: group commit wait x concurrency, pool, limits. */
const DEFAULT_SWEEP = [
  '',
  'RATE_LIMIT_EVENTS_PER_SECOND=0',
  ...[0, 1, 2].flatMap((wait) =>
    [1, 2, 4].map(
      (c) =>
        `RATE_LIMIT_EVENTS_PER_SECOND=0,GROUP_COMMIT_MAX_WAIT_MS=${wait},GROUP_COMMIT_CONCURRENCY=${c}`,
    ),
  ),
  'RATE_LIMIT_EVENTS_PER_SECOND=0,GROUP_COMMIT_CONCURRENCY=8,DB_POOL_SIZE=16',
  'RATE_LIMIT_EVENTS_PER_SECOND=0,LOG_LEVEL=warn',
].join(';');

const argv = process.argv.slice(2);
const seconds = Number(flag('duration', '15'));
const connections = Number(flag('connections', '64'));
const runs = Number(flag('runs', '1'));
const pgbenchClients = Number(flag('pgbench-clients', '16'));
const built = argv.includes('--built');
const calibrate = argv.includes('--calibrate');
const pgCost = argv.includes('--pg-cost');
const atTarget = argv.includes('--at-target');
const cpuProfDir = argv.includes('--cpu-prof') ? flag('cpu-prof', 'cpu-prof') : undefined;
const sweepIndex = argv.indexOf('--sweep');
const sweep =
  sweepIndex < 0
    ? undefined
    : argv[sweepIndex + 1] && !argv[sweepIndex + 1]?.startsWith('--')
      ? (argv[sweepIndex + 1] as string)
      : DEFAULT_SWEEP;
const cases = flag('cases', sweep ? 'events,segment' : 'events,segment,posthog')
  .split(',')
  .map((name) => {
    if (!(name in CASES)) throw new Error(`unknown case ${name}; cases: ${Object.keys(CASES)}`);
    return name as CaseName;
  });

function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of text.split(',').filter(Boolean)) {
    const [key, ...value] = pair.split('=');
    env[(key as string).trim()] = value.join('=').trim();
  }
  return env;
}

const adminUrl = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const DB_NAME = 'events_bench_clients';
const runTag = IdSpace.tag(8);
const caseTags = new Set<string>();

/** A tag for one case's ids, never used before in this run. */
function caseTag(): string {
  for (;;) {
    const tag = IdSpace.tag(4);
    if (!caseTags.has(tag)) {
      caseTags.add(tag);
      return tag;
    }
  }
}

interface CaseOutcome {
  name: CaseName;
  load: LoadResult;
  check: StoredCheck;
  /** Stored events equal the summaries' event count (type_day_counts, UTC). */
  summariesAgree: boolean;
  cpu: CpuShares;
  /** Database transactions that stored the case's events. */
  transactions: number;
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

async function storedIds(pool: pg.Pool, ids: IdSpace): Promise<string[]> {
  const [low, high] = ids.bounds;
  const result = await pool.query({
    text: 'SELECT event_id::text FROM events WHERE event_id BETWEEN $1 AND $2',
    values: [low, high],
    rowMode: 'array',
  });
  return result.rows.map((row: string[]) => row[0] as string);
}

/**
 * received_at defaults to now(), the start time of the transaction, so the distinct values
 * among a case's rows count the transactions that stored them (exact, unlike the
 * statistics views, which backends flush lazily).
 */
async function transactions(pool: pg.Pool, ids: IdSpace): Promise<number> {
  const { rows } = await pool.query(
    'SELECT count(DISTINCT received_at)::int AS n FROM events WHERE event_id BETWEEN $1 AND $2',
    ids.bounds,
  );
  return rows[0].n;
}

async function summariesAgree(pool: pg.Pool): Promise<boolean> {
  const { rows } = await pool.query(
    `SELECT (SELECT count(*) FROM events)::bigint AS stored,
            (SELECT coalesce(sum(events), 0) FROM type_day_counts WHERE zone_id = 0)::bigint AS counted`,
  );
  return rows[0].stored === rows[0].counted;
}

async function runCase(
  name: CaseName,
  server: { url: string; pid: number },
  pool: pg.Pool,
  rate?: number,
): Promise<CaseOutcome> {
  const ids = new IdSpace(runTag, caseTag());
  const ledger = new Ledger();
  const meter = new CpuMeter(pool, DB_NAME, server.pid);
  await meter.start();
  const load = await runLoad({
    url: server.url,
    connections,
    seconds,
    next: CASES[name].make(ids),
    ledger,
    ...(rate ? { rate } : {}),
  });
  const cpu = await meter.stop();
  // Requests cut off at the deadline may still commit: let them finish before counting.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const check = checkStored(ids, ledger, await storedIds(pool, ids));
  const outcome = {
    name,
    load,
    check,
    summariesAgree: await summariesAgree(pool),
    cpu,
    transactions: await transactions(pool, ids),
  };
  log(
    `  ${name}${rate ? ` at ${rate} req/s offered` : ''}: ${Math.round(load.ok / load.seconds)} req/s, ${Math.round(load.okEvents / load.seconds)} events/s, ` +
      `p50 ${load.p50} ms, p99 ${load.p99} ms, non-2xx ${JSON.stringify(load.statuses)}, errors ${load.errors}; ` +
      `stored ${check.stored} = acknowledged ${check.acknowledged} + in flight ${check.storedUnacknowledged}, ` +
      `lost ${check.lost}, duplicated ${check.duplicated}, refused but stored ${check.storedRefused}, unknown ${check.unknown}; ` +
      `${outcome.transactions} transactions; cpu server ${cpu.server.toFixed(2)} pg ${cpu.postgres.toFixed(2)} generator ${cpu.generator.toFixed(2)} machine ${cpu.machine.toFixed(2)}`,
  );
  return outcome;
}

interface BaselineOutcome extends PgbenchResult {
  cpu: CpuShares;
}

async function baseline(url: string, pool: pg.Pool): Promise<BaselineOutcome> {
  const meter = new CpuMeter(pool, DB_NAME, undefined);
  await meter.start();
  const result = await runPgbench({ databaseUrl: url, clients: pgbenchClients, seconds });
  const cpu = await meter.stop();
  log(
    `  pgbench: ${Math.round(result.tps)} tps, p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms, failed ${result.failed}; ` +
      `cpu pg ${cpu.postgres.toFixed(2)} machine ${cpu.machine.toFixed(2)}`,
  );
  return { ...result, cpu };
}

function errorsOf(load: LoadResult): number {
  return Object.values(load.statuses).reduce((a, b) => a + b, 0) + load.errors;
}

function checkText(outcomes: CaseOutcome[]): string {
  const bad = outcomes.filter(
    (o) =>
      o.check.lost > 0 ||
      o.check.duplicated > 0 ||
      o.check.unknown > 0 ||
      o.check.storedRefused > 0 ||
      o.summariesAgree === false,
  );
  if (bad.length > 0) return `**FAILED** (${JSON.stringify(bad.map((o) => o.check))})`;
  const inFlight = outcomes.reduce((a, o) => a + o.check.storedUnacknowledged, 0);
  return inFlight > 0 ? `ok (+${inFlight} in flight at stop)` : 'ok';
}

type Row = (string | number)[];

interface ConfigResult {
  /** Throughput, latency, errors and the stored-rows check. */
  load: Row[];
  /** Where the CPU went. */
  cpu: Row[];
  /** One-event req/s ÷ pgbench tps, each as if the machine's cores were its alone. */
  projectedRatio: number | undefined;
}

function micros(outcomes: CaseOutcome[], share: (cpu: CpuShares) => number): number {
  // Cores busy x 1e6 / requests per second = CPU microseconds per request.
  return median(
    outcomes.map((o) => (share(o.cpu) * 1e6 * o.load.seconds) / Math.max(1, o.load.ok)),
  );
}

/** Medians across runs; the table rows for one server configuration. */
function summarize(
  results: Map<CaseName, CaseOutcome[]>,
  pgbench: BaselineOutcome[],
): ConfigResult {
  const tps = median(pgbench.map((p) => p.tps));
  const load: Row[] = [];
  const cpu: Row[] = [];
  let projectedEvents: number | undefined;
  for (const [name, outcomes] of results) {
    const reqs = median(outcomes.map((o) => o.load.ok / o.load.seconds));
    load.push([
      CASES[name].label,
      Math.round(reqs),
      Math.round(median(outcomes.map((o) => o.load.okEvents / o.load.seconds))),
      median(outcomes.map((o) => o.load.p50)),
      median(outcomes.map((o) => o.load.p99)),
      outcomes.map((o) => errorsOf(o.load)).join('/'),
      checkText(outcomes),
      name === 'events' ? (reqs / tps).toFixed(2) : '',
    ]);
    const server = micros(outcomes, (c) => c.server);
    const postgres = micros(outcomes, (c) => c.postgres);
    const generator = micros(outcomes, (c) => c.generator);
    if (name === 'events') projectedEvents = (cores * 1e6) / (server + postgres + generator);
    cpu.push([
      CASES[name].label,
      Math.round(server),
      Math.round(postgres),
      Math.round(generator),
      median(outcomes.map((o) => o.cpu.generator / Math.max(0.01, o.cpu.server))).toFixed(2),
      median(outcomes.map((o) => o.cpu.machine)).toFixed(2),
      Math.round((cores * 1e6) / (server + postgres + generator)),
      median(outcomes.map((o) => o.check.stored / Math.max(1, o.transactions))).toFixed(1),
    ]);
  }
  load.push([
    `baseline: pgbench, ${pgbenchClients} clients, 1-row INSERT ... ON CONFLICT DO NOTHING`,
    Math.round(tps),
    Math.round(tps),
    median(pgbench.map((p) => p.p50)).toFixed(1),
    median(pgbench.map((p) => p.p99)).toFixed(1),
    pgbench.map((p) => p.failed).join('/'),
    '',
    '1.00',
  ]);
  const pgbenchPg = median(pgbench.map((p) => (p.cpu.postgres * 1e6) / p.tps));
  const pgbenchClient = median(pgbench.map((p) => (p.clientCpuSeconds * 1e6) / p.transactions));
  cpu.push([
    'baseline: pgbench',
    '',
    Math.round(pgbenchPg),
    Math.round(pgbenchClient),
    '',
    median(pgbench.map((p) => p.cpu.machine)).toFixed(2),
    Math.round((cores * 1e6) / (pgbenchPg + pgbenchClient)),
    '1.0',
  ]);
  const projectedTps = (cores * 1e6) / (pgbenchPg + pgbenchClient);
  const projectedRatio = projectedEvents === undefined ? undefined : projectedEvents / projectedTps;
  return { load, cpu, projectedRatio };
}

const cores = cpus().length;
const LOAD_HEADERS = [
  'case',
  'req/s',
  'events/s',
  'p50 ms',
  'p99 ms',
  'errors',
  'stored = acknowledged',
  'req/s ÷ pgbench tps',
];
const CPU_HEADERS = [
  'case',
  'server CPU µs/req',
  'PostgreSQL CPU µs/req',
  'load generator CPU µs/req (pgbench: its client)',
  'generator ÷ server CPU',
  `machine busy (of ${cores} cores, all users)`,
  `req/s if all ${cores} cores were this run's`,
  'events per transaction',
];

/** A server in its own process that answers every request at once: the generator's ceiling. */
const SINK = `const s = require('node:http').createServer((q, r) => { q.resume(); q.on('end', () => r.writeHead(200, {'content-type': 'application/json'}).end('{}')); });
s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;

async function calibrateGenerator(): Promise<Row[]> {
  const sink = spawn(process.execPath, ['-e', SINK], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [port] = (await once(sink.stdout, 'data')) as [Buffer];
  const url = `http://127.0.0.1:${port.toString().trim()}`;
  const out: Row[] = [];
  try {
    for (const name of cases) {
      const ids = new IdSpace(runTag, caseTag());
      const started = process.cpuUsage();
      const load = await runLoad({
        url,
        connections,
        seconds: Math.min(seconds, 5),
        next: CASES[name].make(ids),
        ledger: new Ledger(),
      });
      const used = process.cpuUsage(started);
      const busy = (used.user + used.system) / 1e6 / load.seconds;
      log(
        `  calibrate ${name}: ${Math.round(load.ok / load.seconds)} req/s, generator ${busy.toFixed(2)} cores`,
      );
      out.push([
        `generator against a no-op server: ${CASES[name].label}`,
        Math.round(load.ok / load.seconds),
        Math.round(load.okEvents / load.seconds),
        load.p50,
        load.p99,
        errorsOf(load),
        `generator ${busy.toFixed(2)} cores`,
        '',
      ]);
    }
  } finally {
    sink.kill();
  }
  return out;
}

async function measureConfig(
  url: string,
  pool: pg.Pool,
  env: Record<string, string>,
): Promise<ConfigResult> {
  const server = await startServer({ databaseUrl: url, env, built, cpuProfDir });
  const results = new Map<CaseName, CaseOutcome[]>(cases.map((c) => [c, []]));
  const pgbench: BaselineOutcome[] = [];
  const targets: [string, number, CaseOutcome][] = [];
  try {
    for (let run = 1; run <= runs; run++) {
      log(`run ${run}/${runs}`);
      pgbench.push(await baseline(url, pool));
      for (const name of cases) results.get(name)?.push(await runCase(name, server, pool));
    }
    if (atTarget) {
      const tps = median(pgbench.map((p) => p.tps));
      const offered: [CaseName, number, string][] = [
        ['events', Math.round(tps / 2), 'at 0.5x pgbench tps'],
        ['segment', Math.round(20_000 / 15), 'at 20k events/s'],
      ];
      for (const [name, rate, label] of offered) {
        if (!cases.includes(name)) continue;
        targets.push([label, rate, await runCase(name, server, pool, rate)]);
      }
    }
  } finally {
    await server.stop();
  }
  const summary = summarize(results, pgbench);
  for (const [label, rate, outcome] of targets) {
    const name = outcome.name;
    summary.load.push([
      `${CASES[name].label}, ${label}: ${rate} req/s offered`,
      Math.round(outcome.load.ok / outcome.load.seconds),
      Math.round(outcome.load.okEvents / outcome.load.seconds),
      outcome.load.p50,
      outcome.load.p99,
      errorsOf(outcome.load),
      checkText([outcome]),
      '',
    ]);
  }
  return summary;
}

async function pgCostTable(url: string): Promise<string> {
  const ids = new IdSpace(runTag, caseTag());
  const result = await measurePgCost(url, ids, [1, 15, 100, 1000]);
  const rows: Row[] = result.costs.map((c) => [
    `storeUniqueEvents, ${c.size} event(s)`,
    c.calls,
    Math.round(c.perCall),
    (c.perCall / c.size).toFixed(1),
  ]);
  rows.push([
    "pgbench's statement: 1-row INSERT into the original schema",
    200,
    Math.round(result.plainInsert),
    Math.round(result.plainInsert),
  ]);
  return `PostgreSQL backend CPU per call (median; fit: ${Math.round(result.fixed)} µs per transaction + ${result.perEvent.toFixed(1)} µs per event)\n\n${table(['write', 'calls', 'µs per call', 'µs per event'], rows)}`;
}

const serverVersion = await withClient(
  adminUrl,
  async (c) => (await c.query('SHOW server_version')).rows[0].server_version as string,
);
const url = await freshDatabase(adminUrl, DB_NAME);
const pool = new pg.Pool({ connectionString: url, max: 2 });
await pool.query(PLAIN_SCHEMA);
const started = Date.now();
try {
  const setup = `${connections} connections, ${seconds} s per case, ${runs} run(s) (medians), PostgreSQL ${serverVersion}, server ${built ? 'node dist/server.js' : 'node --import tsx src/server.ts'}`;
  if (sweep === undefined) {
    const env = parseEnv(flag('env', ''));
    log(`server env: ${JSON.stringify(env)}; ${setup}`);
    const result = await measureConfig(url, pool, env);
    if (calibrate) result.load.push(...(await calibrateGenerator()));
    console.log(`\nnpm run bench:clients -- ${argv.join(' ')}`);
    console.log(
      `${setup}; server env: ${Object.keys(env).length ? JSON.stringify(env) : 'defaults'}\n`,
    );
    console.log(table(LOAD_HEADERS, result.load));
    console.log(`\n${table(CPU_HEADERS, result.cpu)}`);
    if (result.projectedRatio !== undefined) {
      console.log(
        `\nOne-event req/s ÷ pgbench tps from CPU per request (as if the ${cores} cores were free): ${result.projectedRatio.toFixed(2)}`,
      );
    }
    if (pgCost) console.log(`\n${await pgCostTable(url)}`);
  } else {
    const load: Row[] = [];
    const cpu: Row[] = [];
    for (const config of sweep.split(';')) {
      const env = parseEnv(config);
      log(`server env: ${config || 'defaults'}`);
      const result = await measureConfig(url, pool, env);
      const label = config.replaceAll(',', ' ') || 'defaults';
      for (const row of result.load) load.push([label, ...row]);
      for (const row of result.cpu) cpu.push([label, ...row]);
      if (result.projectedRatio !== undefined)
        cpu.push([
          label,
          'one-event ÷ pgbench, from CPU per request',
          result.projectedRatio.toFixed(2),
        ]);
    }
    console.log(`\nnpm run bench:clients -- ${argv.join(' ')}`);
    console.log(`${setup}\n`);
    console.log(table(['server env', ...LOAD_HEADERS], load));
    console.log(`\n${table(['server env', ...CPU_HEADERS], cpu)}`);
  }
  log(`total ${Math.round((Date.now() - started) / 1000)} s`);
} finally {
  await pool.end();
  if (!argv.includes('--keep-db')) {
    await withClient(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${DB_NAME} WITH (FORCE)`));
  } else log(`kept database ${databaseUrl(adminUrl, DB_NAME)}`);
}
