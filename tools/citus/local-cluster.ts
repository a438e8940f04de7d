/**
 * A local Citus cluster for development and tests: a coordinator and workers, each its own
 * PostgreSQL 15 instance (initdb + pg_ctl of the machine's binaries) on 127.0.0.1, with
 * Citus preloaded, the extension created in one database on every node, and the workers
 * registered on the coordinator. `npm run cluster` (tools/citus/cluster.ts) is the shell.
 *
 * Layout under the cluster directory (default .data/citus in the repository):
 *   cluster.json            the nodes and their ports, fixed when the cluster is created
 *   <node>/data             the node's PGDATA
 *   <node>/server.log       its server log
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { canReach, ROOT_STATE_DIR } from '../../src/db/embedded-postgres.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const HOST = '127.0.0.1';
const SUPERUSER = 'postgres';
const MAX_WORKERS = 8;

export interface ClusterOptions {
  /** The cluster directory asked for; as root it can move (see placeDirectory). */
  dir: string;
  /** The coordinator's port; worker N listens on basePort + N. */
  basePort: number;
  /** Workers `start` makes sure exist (it adds missing ones, never removes any). */
  workers: number;
  /** The database that gets the citus extension on every node. */
  database: string;
  /** Where initdb and pg_ctl are. */
  binDir: string;
  /** Progress lines (stderr in the CLI). */
  log: (line: string) => void;
}

/** A problem the user can fix; the message is one sentence saying what to do. */
export class ClusterError extends Error {
  override name = 'ClusterError';
}

export interface ClusterNode {
  name: string;
  port: number;
}

interface ClusterState {
  database: string;
  nodes: ClusterNode[];
}

export interface NodeStatus extends ClusterNode {
  running: boolean;
  pid: number | undefined;
}

function integerFromEnv(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ClusterError(`${name} must be an integer from ${min} to ${max}, not "${raw}".`);
  }
  return value;
}

export function clusterOptionsFromEnv(
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): ClusterOptions {
  const database = env.CITUS_DATABASE || 'events';
  if (!/^[a-z_][a-z0-9_]*$/.test(database)) {
    throw new ClusterError(
      `CITUS_DATABASE must be a lower-case SQL identifier (letters, digits, _), not "${database}".`,
    );
  }
  return {
    dir: path.resolve(env.CITUS_CLUSTER_DIR || path.join(REPO_ROOT, '.data', 'citus')),
    basePort: integerFromEnv(env, 'CITUS_BASE_PORT', 9700, 1024, 65535 - MAX_WORKERS),
    workers: integerFromEnv(env, 'CITUS_WORKERS', 2, 1, MAX_WORKERS),
    database,
    binDir: env.PG_BIN_DIR || '/usr/lib/postgresql/15/bin',
    log,
  };
}

// ---------------------------------------------------------------------------------------
// Running the PostgreSQL tools (as user postgres when this is root: initdb refuses root)

interface OsUser {
  uid: number;
  gid: number;
}

/** The OS user that owns and runs the nodes: postgres as root, else the caller. */
function serverUser(): OsUser | undefined {
  if (userInfo().uid !== 0) return undefined;
  const id = (flag: string) => {
    try {
      return Number(execFileSync('id', [flag, SUPERUSER], { encoding: 'utf8', stdio: 'pipe' }));
    } catch {
      throw new ClusterError(
        'As root the cluster runs as the OS user "postgres", which does not exist: install postgresql-15 (it creates that user) or run as another user.',
      );
    }
  };
  return { uid: id('-u'), gid: id('-g') };
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], user: OsUser | undefined): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      // user postgres may not be able to enter the caller's directory (a clone under /root).
      cwd: '/',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

// ---------------------------------------------------------------------------------------

export function citusInstalled(binDir = '/usr/lib/postgresql/15/bin'): boolean {
  try {
    const libDir = execFileSync(path.join(binDir, 'pg_config'), ['--pkglibdir'], {
      encoding: 'utf8',
      stdio: 'pipe',
    }).trim();
    return existsSync(path.join(libDir, 'citus.so'));
  } catch {
    return existsSync(path.join(path.dirname(binDir), 'lib', 'citus.so'));
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: HOST, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

async function tail(file: string, lines: number): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no server log)';
  }
}

export class LocalCluster {
  /** The directory in use: the one asked for, or (root, unreachable for postgres) a stand-in. */
  readonly dir: string;
  private readonly user: OsUser | undefined;

  constructor(private readonly options: ClusterOptions) {
    this.user = serverUser();
    this.dir = this.placeDirectory(options.dir);
  }

  /**
   * As root the nodes run as user postgres, which cannot reach a clone under a 0700 home
   * such as /root: then the data lives under ROOT_STATE_DIR in a directory named after the
   * one asked for (so every command of this checkout finds it), as embedded PostgreSQL does.
   */
  private placeDirectory(wanted: string): string {
    if (!this.user) return wanted;
    let reachable = wanted;
    while (!existsSync(reachable)) reachable = path.dirname(reachable);
    if (canReach(this.user, '-x', reachable)) return wanted;
    const key = createHash('sha256').update(wanted).digest('hex').slice(0, 12);
    return path.join(ROOT_STATE_DIR, `citus-${key}`);
  }

  private get stateFile(): string {
    return path.join(this.dir, 'cluster.json');
  }

  private dataDir(node: ClusterNode): string {
    return path.join(this.dir, node.name, 'data');
  }

  private logFile(node: ClusterNode): string {
    return path.join(this.dir, node.name, 'server.log');
  }

  private readState(): ClusterState | undefined {
    if (!existsSync(this.stateFile)) return undefined;
    return JSON.parse(readFileSync(this.stateFile, 'utf8')) as ClusterState;
  }

  private async writeState(state: ClusterState): Promise<void> {
    await writeFile(this.stateFile, `${JSON.stringify(state, null, 2)}\n`);
  }

  /** The URL of the coordinator's database (trust authentication, loopback only). */
  url(state = this.readState()): string {
    const coordinator = state?.nodes[0];
    if (!state || !coordinator) throw new ClusterError(`There is no cluster in ${this.dir}.`);
    return `postgres://${SUPERUSER}@${HOST}:${coordinator.port}/${state.database}`;
  }

  async status(): Promise<NodeStatus[] | undefined> {
    const state = this.readState();
    if (!state) return undefined;
    return Promise.all(state.nodes.map((node) => this.nodeStatus(node)));
  }

  private async nodeStatus(node: ClusterNode): Promise<NodeStatus> {
    const pidFile = path.join(this.dataDir(node), 'postmaster.pid');
    // pg_ctl status: 0 running, 3 not running, 4 no data directory.
    const result = existsSync(pidFile)
      ? await run(this.bin('pg_ctl'), ['status', '-D', this.dataDir(node)], this.user)
      : { code: 3, stdout: '', stderr: '' };
    const pid = /PID: (\d+)/.exec(result.stdout)?.[1];
    return { ...node, running: result.code === 0, pid: pid ? Number(pid) : undefined };
  }

  private bin(tool: string): string {
    return path.join(this.options.binDir, tool);
  }

  /**
   * Creates what is missing, starts what is stopped, registers what is unregistered; on a
   * running, complete cluster it changes nothing. Returns the coordinator's URL.
   */
  async start(): Promise<string> {
    if (!citusInstalled(this.options.binDir)) {
      throw new ClusterError(
        `Citus is not installed for the PostgreSQL in ${this.options.binDir}: run tools/citus/build.sh first.`,
      );
    }
    const state = await this.ensureState();
    await Promise.all(state.nodes.map((node) => this.ensureInitialized(node)));
    const stopped = (await this.status())?.filter((node) => !node.running) ?? [];
    // Every port is checked before anything starts, so a clash leaves nothing half-started.
    for (const node of stopped) {
      if (!(await portIsFree(node.port))) {
        throw new ClusterError(
          `Port ${node.port} (for ${node.name}) is taken by another process: stop it, or choose another range with CITUS_BASE_PORT (the ports are fixed when the cluster is created, so "npm run cluster -- destroy" first).`,
        );
      }
    }
    await Promise.all(stopped.map((node) => this.startNode(node)));
    await this.configure(state);
    return this.url(state);
  }

  /** Adds worker N+1 to a running cluster (initdb, start, citus_add_node); no rebalancing. */
  async addWorker(): Promise<ClusterNode> {
    const state = this.readState();
    if (!state) throw new ClusterError(`There is no cluster in ${this.dir}: start one first.`);
    const nodes = await this.status();
    if (!nodes?.every((node) => node.running)) {
      throw new ClusterError('Not every node is running: "npm run cluster -- start" first.');
    }
    const coordinator = state.nodes[0] as ClusterNode;
    const index = state.nodes.length; // the coordinator is nodes[0]
    if (index > MAX_WORKERS)
      throw new ClusterError(`The cluster has ${MAX_WORKERS} workers already.`);
    const worker = { name: `worker-${index}`, port: coordinator.port + index };
    if (!(await portIsFree(worker.port))) {
      throw new ClusterError(
        `Port ${worker.port} (for ${worker.name}) is taken by another process: stop it first.`,
      );
    }
    state.nodes.push(worker);
    await this.writeState(state);
    await this.ensureInitialized(worker);
    await this.startNode(worker);
    await this.configure(state);
    return worker;
  }

  /** Stops every node (coordinator first); waits until each server process has exited. */
  async stop(): Promise<void> {
    const nodes = (await this.status()) ?? [];
    for (const node of nodes.filter((n) => n.running)) {
      this.options.log(`stopping ${node.name} (port ${node.port})`);
      const dataDir = this.dataDir(node);
      const fast = await run(
        this.bin('pg_ctl'),
        ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '60'],
        this.user,
      );
      if (fast.code === 0) continue;
      // A session that ignores the fast shutdown's termination: do not leave it running.
      const immediate = await run(
        this.bin('pg_ctl'),
        ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '30'],
        this.user,
      );
      if (immediate.code !== 0 && (await this.nodeStatus(node)).running) {
        throw new ClusterError(
          `${node.name} (pid ${node.pid}) did not stop: ${(fast.stderr || immediate.stderr).trim()}`,
        );
      }
    }
  }

  /** Stops the cluster and removes its data. */
  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  // -------------------------------------------------------------------------------------

  private async ensureState(): Promise<ClusterState> {
    const { basePort, workers, database } = this.options;
    let state = this.readState();
    if (!state) {
      await mkdir(this.dir, { recursive: true, mode: 0o755 });
      if (this.dir !== this.options.dir) {
        this.options.log(
          `user postgres cannot reach ${this.options.dir}, so the cluster's data is in ${this.dir}`,
        );
      }
      state = {
        database,
        nodes: Array.from({ length: workers + 1 }, (_, i) => ({
          name: i === 0 ? 'coordinator' : `worker-${i}`,
          port: basePort + i,
        })),
      };
      await this.writeState(state);
      return state;
    }
    const coordinatorPort = state.nodes[0]?.port;
    if (coordinatorPort !== basePort || state.database !== database) {
      this.options.log(
        `the cluster in ${this.dir} was created with port ${coordinatorPort} and database ${state.database}; using those (destroy it to change them)`,
      );
    }
    // CITUS_WORKERS=3 on a two-worker cluster adds the third (start registers it).
    for (let i = state.nodes.length; i <= workers; i++) {
      state.nodes.push({ name: `worker-${i}`, port: (coordinatorPort ?? basePort) + i });
    }
    await this.writeState(state);
    return state;
  }

  private async ensureInitialized(node: ClusterNode): Promise<void> {
    const dataDir = this.dataDir(node);
    if (existsSync(path.join(dataDir, 'PG_VERSION'))) return;
    this.options.log(`initdb ${node.name} (port ${node.port})`);
    const nodeDir = path.dirname(dataDir);
    // A directory without PG_VERSION is an initdb that never finished: start over.
    await rm(nodeDir, { recursive: true, force: true });
    await mkdir(nodeDir, { recursive: true, mode: 0o755 });
    if (this.user) await chown(nodeDir, this.user.uid, this.user.gid);
    const result = await run(
      this.bin('initdb'),
      ['-D', dataDir, '-U', SUPERUSER, '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8'],
      this.user,
    );
    if (result.code !== 0) {
      throw new ClusterError(`initdb for ${node.name} failed: ${result.stderr.trim()}`);
    }
    const settings = [
      '',
      '# Local Citus cluster (tools/citus/local-cluster.ts)',
      `port = ${node.port}`,
      `listen_addresses = '${HOST}'`,
      // TCP only: no socket files to clash with the machine's PostgreSQL or path-length limits.
      "unix_socket_directories = ''",
      // Citus must come first. pg_stat_statements: what each node runs (CREATE EXTENSION
      // pg_stat_statements where you want to read it).
      "shared_preload_libraries = 'citus,pg_stat_statements'",
      // Shard moves (citus_rebalance_start after adding a worker) use logical replication.
      'wal_level = logical',
      '',
    ].join('\n');
    // Root appends in place; the file stays the server user's.
    await appendFile(path.join(dataDir, 'postgresql.conf'), settings);
  }

  private async startNode(node: ClusterNode): Promise<void> {
    this.options.log(`starting ${node.name} on ${HOST}:${node.port}`);
    const result = await run(
      this.bin('pg_ctl'),
      ['start', '-D', this.dataDir(node), '-l', this.logFile(node), '-w', '-t', '60', '-s'],
      this.user,
    );
    if (result.code !== 0) {
      throw new ClusterError(
        `${node.name} did not start (port ${node.port}); the end of ${this.logFile(node)}:\n${await tail(this.logFile(node), 15)}`,
      );
    }
  }

  /** Idempotent: the database and extension on every node, the workers on the coordinator. */
  private async configure(state: ClusterState): Promise<void> {
    await Promise.all(
      state.nodes.map(async (node) => {
        await withClient(node.port, 'postgres', async (client) => {
          const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
            state.database,
          ]);
          if (found.rowCount === 0) {
            await client.query(`CREATE DATABASE ${client.escapeIdentifier(state.database)}`);
          }
        });
        await withClient(node.port, state.database, async (client) => {
          await client.query('CREATE EXTENSION IF NOT EXISTS citus');
        });
      }),
    );
    const [coordinator, ...workers] = state.nodes as [ClusterNode, ...ClusterNode[]];
    await withClient(coordinator.port, state.database, async (client) => {
      const registered = await client.query<{ nodeport: number; groupid: number }>(
        'SELECT nodeport, groupid FROM pg_dist_node WHERE nodename = $1',
        [HOST],
      );
      if (!registered.rows.some((row) => row.groupid === 0)) {
        this.options.log('registering the coordinator');
        await client.query('SELECT citus_set_coordinator_host($1, $2)', [HOST, coordinator.port]);
      }
      for (const worker of workers) {
        if (registered.rows.some((row) => row.nodeport === worker.port)) continue;
        this.options.log(`adding ${worker.name} to the cluster`);
        await client.query('SELECT citus_add_node($1, $2)', [HOST, worker.port]);
      }
    });
  }
}

async function withClient<T>(
  port: number,
  database: string,
  work: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ host: HOST, port, user: SUPERUSER, database });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
