/**
 * The service as a separate process (`node --import tsx src/server.ts`, or the build in
 * dist/ with --built), so the benchmark measures what production runs: its own event
 * loop, its own pool, its own CPU, apart from the load generator's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ServerProcess {
  url: string;
  pid: number;
  /** SIGTERM and wait for the exit (a --cpu-prof profile is written then). */
  stop(): Promise<void>;
}

export interface ServerOptions {
  databaseUrl: string;
  /** Extra environment, e.g. GROUP_COMMIT_MAX_WAIT_MS; everything else is the defaults. */
  env: Record<string, string>;
  built: boolean;
  /** Directory for a V8 CPU profile of the server (node --cpu-prof), or undefined. */
  cpuProfDir: string | undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startServer(options: ServerOptions): Promise<ServerProcess> {
  if (options.built && !existsSync('dist/server.js')) {
    throw new Error('--built needs dist/server.js: run `npm run build` first');
  }
  const port = await freePort();
  const args = [
    ...(options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : []),
    ...(options.built ? ['dist/server.js'] : ['--import', 'tsx', 'src/server.ts']),
  ];
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    DATABASE_URL: options.databaseUrl,
    HOST: '127.0.0.1',
    PORT: String(port),
    ...options.env,
  };
  // The access log (one line per request at the default LOG_LEVEL=info) is written as in
  // production, to a sink that costs nothing to read.
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`the server exited with ${child.exitCode} at start:\n${stderr}`);
    }
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the server did not answer /healthz within 60 s:\n${stderr}`);
    }
    await sleep(100);
  }
  return {
    url,
    pid: child.pid as number,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited(child);
      clearTimeout(timer);
    },
  };
}
