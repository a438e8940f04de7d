import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { citusInstalled, REPO_ROOT } from '../../tools/citus/local-cluster.js';
import { runProcess } from '../helpers/server-process.js';

const installed = citusInstalled();
if (!installed) {
  process.stderr.write(
    'Skipping the local Citus cluster test: Citus is not installed for PostgreSQL 15 (run tools/citus/build.sh).\n',
  );
}

const CLI = path.join(REPO_ROOT, 'tools', 'citus', 'cluster.ts');

/** Four consecutive free ports (coordinator + three workers), away from the 9700 default. */
async function freePortRange(): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen({ port, host: '127.0.0.1', exclusive: true }, () =>
        server.close(() => resolve(true)),
      );
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    const ports = [base, base + 1, base + 2, base + 3];
    if ((await Promise.all(ports.map(free))).every(Boolean)) return base;
  }
  throw new Error('no four consecutive free ports');
}

/** The pids of these server processes and of all their children (backends, checkpointer...). */
function processTree(roots: number[]): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parentOf.set(Number(entry), ppid);
    } catch {
      // exited while listing
    }
  }
  const tree = new Set(roots);
  for (const [pid, ppid] of parentOf) if (tree.has(ppid)) tree.add(pid);
  return [...tree];
}

/** Running, that is: not gone and not a zombie (an exited server waits to be reaped by init). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe.skipIf(!installed)('npm run cluster (local Citus cluster)', () => {
  let dir: string;
  let basePort: number;
  let env: Record<string, string>;
  const cluster = (command?: string) =>
    runProcess(['--import', 'tsx', CLI, ...(command ? [command] : [])], env, 120_000);
  const lastLine = (stdout: string) => stdout.trimEnd().split('\n').at(-1);
  const pidsOf = (stdout: string) =>
    [...stdout.matchAll(/running \(pid (\d+)\)/g)].map((m) => Number(m[1]));

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'citus-cluster-test-'));
    chmodSync(dir, 0o755); // as root, the nodes run as user postgres, which must reach it
    basePort = await freePortRange();
    env = { CITUS_CLUSTER_DIR: path.join(dir, 'cluster'), CITUS_BASE_PORT: String(basePort) };
  });

  afterAll(async () => {
    if (!env) return;
    await cluster('destroy');
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  test('usage: exit 2 without a known command', async () => {
    const result = await cluster('launch');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('usage: npm run cluster -- start|stop|status|destroy');
  });

  test('status without a cluster: exit 3', async () => {
    const result = await cluster('status');
    expect(result.code).toBe(3);
    expect(result.stdout).toContain('no cluster in');
  });

  test('a taken port fails start with one sentence and starts nothing', async () => {
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(basePort + 2, '127.0.0.1', resolve));
    try {
      const result = await cluster('start');
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        `Port ${basePort + 2} (for worker-2) is taken by another process`,
      );
      const status = await cluster('status');
      expect(status.code).toBe(3);
      expect(status.stdout).not.toContain('running');
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  }, 120_000);

  test('start, start again (no-op), distributed writes, add-worker, stop leaves no process, destroy', async () => {
    const started = await cluster('start');
    expect(started.code, started.stderr).toBe(0);
    const url = `postgres://postgres@127.0.0.1:${basePort}/events`;
    expect(lastLine(started.stdout)).toBe(url);
    const pids = pidsOf(started.stdout);
    expect(pids).toHaveLength(3);

    const again = await cluster('start');
    expect(again.code).toBe(0);
    expect(lastLine(again.stdout)).toBe(url);
    expect(pidsOf(again.stdout)).toEqual(pids);
    expect(again.stderr).not.toMatch(/initdb|starting|adding/);

    const status = await cluster('status');
    expect(status.code).toBe(0);
    expect(status.stdout.match(/running/g)).toHaveLength(3);
    expect(lastLine(status.stdout)).toBe(url);

    // The cluster is a real Citus cluster: shards on both workers, answers from all of them.
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('CREATE TABLE cli_check (k int PRIMARY KEY, v bigint NOT NULL)');
      await client.query("SELECT create_distributed_table('cli_check', 'k')");
      const values = Array.from({ length: 1000 }, (_, i) => ({ k: i, v: (i * 7919) % 1009 }));
      await client.query('INSERT INTO cli_check SELECT * FROM unnest($1::int[], $2::bigint[])', [
        values.map((r) => r.k),
        values.map((r) => r.v),
      ]);
      const total = await client.query<{ n: string; s: string }>(
        'SELECT count(*) AS n, sum(v) AS s FROM cli_check',
      );
      expect(total.rows[0]).toEqual({
        n: '1000',
        s: String(values.reduce((sum, r) => sum + r.v, 0)),
      });
      const placements = await client.query<{ nodeport: number }>(
        "SELECT DISTINCT nodeport FROM citus_shards WHERE table_name = 'cli_check'::regclass ORDER BY 1",
      );
      expect(placements.rows.map((r) => r.nodeport)).toEqual([basePort + 1, basePort + 2]);

      const added = await cluster('add-worker');
      expect(added.code).toBe(0);
      expect(lastLine(added.stdout)).toBe(url);
      const workers = await client.query<{ nodeport: number }>(
        "SELECT nodeport FROM pg_dist_node WHERE groupid <> 0 AND isactive AND noderole = 'primary' ORDER BY 1",
      );
      expect(workers.rows.map((r) => r.nodeport)).toEqual([
        basePort + 1,
        basePort + 2,
        basePort + 3,
      ]);
    } finally {
      await client.end();
    }

    const running = pidsOf((await cluster('status')).stdout);
    expect(running).toHaveLength(4);
    const tree = processTree(running);
    expect(tree.length).toBeGreaterThan(running.length); // backends and background workers
    const stopped = await cluster('stop');
    expect(stopped.code).toBe(0);
    expect(tree.filter(alive)).toEqual([]);
    const after = await cluster('status');
    expect(after.code).toBe(3);
    expect(after.stdout.match(/stopped/g)).toHaveLength(4);

    // A restart keeps the data and the fourth node.
    const restarted = await cluster('start');
    expect(restarted.code).toBe(0);
    const reopened = new pg.Client({ connectionString: url });
    await reopened.connect();
    try {
      const count = await reopened.query('SELECT count(*)::int AS n FROM cli_check');
      expect(count.rows[0]).toEqual({ n: 1000 });
    } finally {
      await reopened.end();
    }

    const destroyed = await cluster('destroy');
    expect(destroyed.code).toBe(0);
    expect(existsSync(env.CITUS_CLUSTER_DIR as string)).toBe(false);
    expect(processTree(pidsOf(restarted.stdout)).filter(alive)).toEqual([]);
  }, 300_000);
});
