import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { runProcess, startServerProcess } from './helpers/server-process.js';

/**
 * The container image's start path, exercised without Docker: the compiled dist/ that the
 * Dockerfile copies, started the way its CMD and npm scripts start it.
 */
let database: TestDatabase;
let dir: string;

beforeAll(async () => {
  await promisify(execFile)('npm', ['run', 'build'], { cwd: process.cwd() });
  database = await createTestDatabase({ migrated: false });
  dir = mkdtempSync(path.join(tmpdir(), 'events-prod-'));
}, 120_000);
afterAll(async () => {
  await database?.close();
  rmSync(dir, { recursive: true, force: true });
});

const dockerfile = readFileSync('Dockerfile', 'utf8');

describe('production start path (the image, without Docker)', () => {
  it('the Dockerfile runs files that the build produces', () => {
    const cmd = /^CMD \["node", "([^"]+)"\]$/m.exec(dockerfile)?.[1];
    expect(cmd).toBe('dist/server.js');
    const scripts = [...dockerfile.matchAll(/'scripts\.[\w:]+=node (dist\/[\w/-]+\.js)/g)].map(
      (m) => m[1] as string,
    );
    expect(scripts.length).toBeGreaterThanOrEqual(4);
    for (const file of [cmd, ...scripts]) expect(existsSync(file as string), file).toBe(true);
    expect(dockerfile).toMatch(/REQUIRE_DATABASE_URL=1/);
    expect(dockerfile).toMatch(/AUTH=required/);
    expect(readFileSync('docker-compose.yml', 'utf8')).toMatch(/AUTH: \$\{AUTH:-required\}/);
    expect(dockerfile).toMatch(/HEALTHCHECK[\s\S]*\/healthz/);
    expect(dockerfile).toMatch(/^USER node$/m);
  });

  it('compose and .env.example agree on every variable', () => {
    const compose = readFileSync('docker-compose.yml', 'utf8');
    const example = readFileSync('.env.example', 'utf8');
    const defined = new Set([...example.matchAll(/^(\w+)=/gm)].map((m) => m[1]));
    const used = new Set([...compose.matchAll(/\$\{(\w+)/g)].map((m) => m[1]));
    for (const name of used) expect(defined.has(name), name).toBe(true);
    expect(example).toContain('DATABASE_URL=postgresql://events:change_me@postgres:5432/events');
  });

  it('node dist/server.js migrates, serves /healthz and stops on SIGTERM', async () => {
    const server = await startServerProcess(['dist/server.js'], {
      DATABASE_URL: database.url,
      REQUIRE_DATABASE_URL: '1',
    });
    const res = await fetch(`${server.baseUrl}/healthz`);
    expect(await res.json()).toEqual({ status: 'ok', db: 'ok' });
    server.proc.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('node dist/server.js without DATABASE_URL in the image stops with a clear message', async () => {
    const { code, stderr } = await runProcess(['dist/server.js'], { REQUIRE_DATABASE_URL: '1' });
    expect(code).toBe(2);
    expect(stderr).toContain('Invalid configuration: DATABASE_URL is required');
  });

  it('the compiled migrate and import CLIs work', async () => {
    const migrate = await runProcess(['dist/cli/migrate.js', 'up'], { DATABASE_URL: database.url });
    expect(migrate.code, migrate.stderr).toBe(0);
    const csv = path.join(dir, 'events.csv');
    writeFileSync(
      csv,
      'event_id,occurred_at,user_id,event_type,properties_json\n6d1d4fae-7dec-11d0-a765-00a0c91e6bf6,2025-10-19T10:00:00Z,u1,login,{"device":"mobile"}\n',
    );
    const dry = await runProcess(['dist/cli/import-events.js', csv, '--dry-run'], {
      DATABASE_URL: database.url,
    });
    expect(dry.code).toBe(0);
    const imported = await runProcess(['dist/cli/import-events.js', csv, '--batch-size', '5000'], {
      DATABASE_URL: database.url,
    });
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toContain('import_complete total_accepted=1 total_read=1');
  });

  it('with AUTH=required (as in the image) ingest needs a key made by the compiled keys CLI', async () => {
    const created = await runProcess(
      ['dist/cli/keys.js', 'create', 'image-test', '--scope', 'all'],
      {
        DATABASE_URL: database.url,
      },
    );
    expect(created.code, created.stderr).toBe(0);
    const key = created.stdout.trim().split('\n').at(-1) as string;
    expect(key).toMatch(/^ea_[A-Za-z0-9_-]{43}$/);

    const server = await startServerProcess(['dist/server.js'], {
      DATABASE_URL: database.url,
      REQUIRE_DATABASE_URL: '1',
      AUTH: 'required',
    });
    try {
      const body = JSON.stringify([
        {
          event_id: '7d1d4fae-7dec-11d0-a765-00a0c91e6bf6',
          occurred_at: '2025-10-19T10:00:00Z',
          user_id: 'u1',
          event_type: 'login',
        },
      ]);
      const post = (headers: Record<string, string>) =>
        fetch(`${server.baseUrl}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body,
        });
      expect((await post({})).status).toBe(401);
      expect((await post({ authorization: `Bearer ${key}` })).status).toBe(202);
      const stats = await fetch(`${server.baseUrl}/stats/dau?from=2025-10-19&to=2025-10-19`, {
        headers: { 'x-api-key': key },
      });
      expect(await stats.json()).toEqual([{ date: '2025-10-19', unique_users: 1 }]);
    } finally {
      server.proc.kill('SIGTERM');
      await server.exited;
    }
  });
});
