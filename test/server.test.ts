import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';
import { event } from './helpers/events.js';
import { runProcess, startServerProcess } from './helpers/server-process.js';

const SERVER = ['--import', 'tsx', 'src/server.ts'];

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase({ migrated: false });
});
afterAll(async () => {
  await database.close();
});

/** POSTs a body in two halves with a pause between, so the request is in flight meanwhile. */
function slowPost(port: number, body: string, betweenHalves: () => Promise<void>) {
  return new Promise<{ status: number; body: string; connection: string | undefined }>(
    (resolve, reject) => {
      const req = http.request(
        {
          port,
          host: '127.0.0.1',
          path: '/events',
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          let text = '';
          res.on('data', (c) => {
            text += String(c);
          });
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              body: text,
              connection: res.headers.connection,
            }),
          );
        },
      );
      req.on('error', reject);
      const half = Math.floor(body.length / 2);
      req.write(body.slice(0, half));
      void betweenHalves().then(() => req.end(body.slice(half)));
    },
  );
}

describe('server process', () => {
  it('migrates at start, serves, and on SIGTERM finishes in-flight requests then exits 0', async () => {
    const server = await startServerProcess(SERVER, { DATABASE_URL: database.url });
    expect(server.lines.join('\n')).toContain(
      'applied migrations 0001_create_events, 0002_create_summaries',
    );
    // The password never reaches the log.
    expect(server.lines.join('\n')).not.toMatch(/postgres:[^*@/]+@/);
    const health = await fetch(`${server.baseUrl}/healthz`);
    expect(health.status).toBe(200);

    const batch = JSON.stringify(Array.from({ length: 100 }, () => event()));
    const response = await slowPost(server.port, batch, async () => {
      await new Promise((r) => setTimeout(r, 200));
      server.proc.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
    });
    expect(response.status).toBe(202);
    expect(JSON.parse(response.body)).toEqual({ accepted: 100, skipped: 0 });
    // So a keep-alive client does not hold the process open after its answer.
    expect(response.connection).toBe('close');
    expect(await server.exited).toBe(0);
    expect(server.lines.join('\n')).toContain('shutdown complete');
    const { rows } = await database.pool.query('SELECT count(*)::int AS n FROM events');
    expect(rows[0].n).toBe(100);
  });

  it('stops with one clear message naming a bad variable', async () => {
    const bad = await runProcess(SERVER, { PORT: 'eighty', DATABASE_URL: database.url });
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('Invalid configuration: PORT must be an integer, got "eighty"');

    const required = await runProcess(SERVER, { REQUIRE_DATABASE_URL: '1' });
    expect(required.code).toBe(2);
    expect(required.stderr).toContain('Invalid configuration: DATABASE_URL is required');
  });

  it('with no DATABASE_URL starts embedded PostgreSQL, keeps data across restarts, and stops it on SIGINT', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'events-embedded-'));
    chmodSync(dir, 0o755);
    const dataDir = path.join(dir, 'pg');
    try {
      const first = await startServerProcess(SERVER, { EMBEDDED_PG_DIR: dataDir });
      expect(first.lines.join('\n')).toContain('using embedded PostgreSQL 16');
      const posted = await fetch(`${first.baseUrl}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([event({ occurred_at: '2025-10-19T10:00:00Z' })]),
      });
      expect(posted.status).toBe(202);
      const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      first.proc.kill('SIGINT');
      expect(await first.exited).toBe(0);
      expect(existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(false);
      expect(() => process.kill(pid, 0)).toThrow(); // no PostgreSQL left behind

      const second = await startServerProcess(SERVER, { EMBEDDED_PG_DIR: dataDir });
      const dau = await fetch(`${second.baseUrl}/stats/dau?from=2025-10-19&to=2025-10-19`);
      expect(await dau.json()).toEqual([{ date: '2025-10-19', unique_users: 1 }]);

      // An import while the server runs shares its embedded PostgreSQL.
      const csv = path.join(dir, 'events.csv');
      writeFileSync(
        csv,
        `event_id,occurred_at,user_id,event_type,properties_json\n${event().event_id},2025-10-19T11:00:00Z,u2,view,\n`,
      );
      const imported = await runProcess(['--import', 'tsx', 'src/cli/import-events.ts', csv], {
        EMBEDDED_PG_DIR: dataDir,
      });
      expect(imported.code, imported.stderr).toBe(0);
      const after = await fetch(`${second.baseUrl}/stats/dau?from=2025-10-19&to=2025-10-19`);
      expect(await after.json()).toEqual([{ date: '2025-10-19', unique_users: 2 }]);
      second.proc.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
