/**
 * The baseline: what PostgreSQL itself does with one new event per transaction, measured
 * by pgbench (16 clients) with a single-row `INSERT ... ON CONFLICT DO NOTHING` into the
 * original service's schema (uuid primary key and three btree indexes, no summaries).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { percentile } from './lib.js';

const run = promisify(execFile);

export const PLAIN_SCHEMA = `
  CREATE TABLE plain_events (
    event_id uuid PRIMARY KEY, occurred_at timestamptz NOT NULL, user_id text NOT NULL,
    event_type text NOT NULL, properties jsonb NOT NULL DEFAULT '{}',
    received_at timestamptz NOT NULL DEFAULT now());
  CREATE INDEX ON plain_events (event_type);
  CREATE INDEX ON plain_events (user_id);
  CREATE INDEX ON plain_events (occurred_at);`;

const SCRIPT = `\\set n random(1, 1000000000)
INSERT INTO plain_events (event_id, occurred_at, user_id, event_type, properties)
VALUES (gen_random_uuid(), now(), 'user_' || (:n % 20000),
        (ARRAY['view','click','search','add_to_cart','purchase','signup','share'])[1 + :n % 7],
        jsonb_build_object('path', '/pricing', 'n', :n))
ON CONFLICT DO NOTHING;
`;

export interface PgbenchResult {
  tps: number;
  transactions: number;
  /** Transaction latency from pgbench's per-transaction log, in ms. */
  p50: number;
  p99: number;
  failed: number;
  /** CPU seconds used by the pgbench client itself (its threads' user + system time). */
  clientCpuSeconds: number;
}

export async function runPgbench(options: {
  databaseUrl: string;
  clients: number;
  seconds: number;
}): Promise<PgbenchResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-clients-pgbench-'));
  try {
    const script = path.join(dir, 'insert.sql');
    await writeFile(script, SCRIPT);
    // bash's `times` reports the CPU its children used: pgbench's own share of the machine.
    const { stdout, stderr } = await run(
      'bash',
      [
        '-c',
        'pgbench "$@"; status=$?; times >&2; exit $status',
        'pgbench',
        '--no-vacuum',
        `--client=${options.clients}`,
        '--jobs=2',
        `--time=${options.seconds}`,
        `--file=${script}`,
        '--log',
        `--log-prefix=${path.join(dir, 'tx')}`,
        options.databaseUrl,
      ],
      { cwd: dir, maxBuffer: 16 * 1024 * 1024 },
    );
    const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
    const transactions = /number of transactions actually processed: (\d+)/.exec(stdout);
    const failed = /number of failed transactions: (\d+)/.exec(stdout);
    if (!tps || !transactions) throw new Error(`cannot read pgbench's output:\n${stdout}`);
    const times = [...stderr.matchAll(/(\d+)m([\d.]+)s/g)].map(
      (m) => Number(m[1]) * 60 + Number(m[2]),
    );
    const clientCpuSeconds = (times[2] ?? 0) + (times[3] ?? 0);
    // Log lines: client_id transaction_no latency_us script_no epoch_s epoch_us
    const latencies: number[] = [];
    for (const file of await readdir(dir)) {
      if (!file.startsWith('tx')) continue;
      for (const line of (await readFile(path.join(dir, file), 'utf8')).split('\n')) {
        const latency = line.split(' ')[2];
        if (latency !== undefined) latencies.push(Number(latency) / 1000);
      }
    }
    return {
      tps: Number(tps[1]),
      transactions: Number(transactions[1]),
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      failed: failed ? Number(failed[1]) : 0,
      clientCpuSeconds,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
