import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { type ServerProcess, startServerProcess } from '../helpers/server-process.js';

const TOKEN = 'metrics-token-0123456789';
let database: TestDatabase;
let server: ServerProcess;

beforeAll(async () => {
  database = await createTestDatabase();
  server = await startServerProcess(['--import', 'tsx', 'src/server.ts'], {
    DATABASE_URL: database.url,
    REQUEST_TIMEOUT_MS: '1500',
    HEADERS_TIMEOUT_MS: '1000',
    STATEMENT_TIMEOUT_MS: '500',
    METRICS_TOKEN: TOKEN,
  });
});
afterAll(async () => {
  server.proc.kill('SIGTERM');
  await server.exited;
  await database.close();
});

describe('configuration of the limits', () => {
  it('has documented defaults and refuses inconsistent values', () => {
    expect(loadConfig({})).toMatchObject({
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 10_000,
      keepAliveTimeoutMs: 72_000,
      connectionTimeoutMs: 120_000,
      maxConnections: 1024,
      statementTimeoutMs: 15_000,
      metricsToken: undefined,
    });
    expect(() => loadConfig({ HEADERS_TIMEOUT_MS: '40000' })).toThrow(ConfigError);
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(
      'Invalid configuration: METRICS_TOKEN must be at least 16 characters',
    );
    expect(() => loadConfig({ STATEMENT_TIMEOUT_MS: '1e3' })).toThrow(ConfigError);
  });
});

describe('the server process applies them (items 8, 9, 13)', () => {
  it('cuts a client that sends headers and no body', async () => {
    const started = performance.now();
    const answer = await new Promise<string>((resolve) => {
      const socket = net.connect(server.port, '127.0.0.1', () =>
        socket.write(
          'POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n',
        ),
      );
      let text = '';
      socket.on('data', (d) => {
        text += String(d);
      });
      socket.on('close', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('runs /stats under the statement timeout', async () => {
    const locker = new pg.Client({ connectionString: database.url });
    await locker.connect();
    try {
      const { rows } = await locker.query<{ name: string }>(
        `SELECT quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = 'public'`,
      );
      await locker.query('BEGIN');
      await locker.query(
        `LOCK TABLE ${rows.map((r) => r.name).join(', ')} IN ACCESS EXCLUSIVE MODE`,
      );
      const res = await fetch(`${server.baseUrl}/stats/dau?from=2025-10-01&to=2025-10-02`);
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: string }).error).toBe('query_timeout');
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
  });

  it('protects /metrics with METRICS_TOKEN', async () => {
    expect((await fetch(`${server.baseUrl}/metrics`)).status).toBe(401);
    const ok = await fetch(`${server.baseUrl}/metrics`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(ok.status).toBe(200);
  });
});
