import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { formatDay, today } from '../../src/stats/dates.js';
import { generate } from '../../tools/gen-csv.js';
import { buildTestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/database.js';

export interface TestServer {
  app: FastifyInstance;
  /** http://127.0.0.1:PORT */
  url: string;
  close(): Promise<void>;
}

/** The real app on a real port, for a real browser. */
export async function startServer(
  database: Pick<TestDatabase, 'db' | 'pool'>,
  config: Parameters<typeof buildTestApp>[1] = {},
): Promise<TestServer> {
  const { app } = await buildTestApp(database, { logLevel: 'warn', ...config });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url, close: () => app.close() };
}

/**
 * A realistic data set ending today (UTC), from the project's generator, sent through
 * POST /events like any client's (to `project` when named, with AUTH=off).
 */
export async function seedEvents(
  app: FastifyInstance,
  options: {
    rows: number;
    users: number;
    days: number;
    seed: number;
    project?: string;
    funnels?: boolean;
  },
): Promise<void> {
  const { project, ...shape } = options;
  const headers = project ? { 'x-project': project } : {};
  const dir = await mkdtemp(path.join(tmpdir(), 'dashboard-data-'));
  try {
    const file = path.join(dir, 'events.csv');
    const start = formatDay(today('UTC') - (options.days - 1));
    await generate({ path: file, start, dupRate: 0, ...shape });
    const rows = parse(await readFile(file), { columns: true }) as Record<string, string>[];
    for (let i = 0; i < rows.length; i += 2000) {
      const batch = rows.slice(i, i + 2000).map((row) => ({
        event_id: row.event_id,
        occurred_at: row.occurred_at,
        user_id: row.user_id,
        event_type: row.event_type,
        properties: JSON.parse(row.properties_json ?? '{}'),
      }));
      const response = await app.inject({
        method: 'POST',
        url: '/events',
        headers,
        payload: batch,
      });
      if (response.statusCode !== 202) throw new Error(`seeding failed: ${response.body}`);
    }
    // Fresh statistics, as autovacuum would gather soon after a bulk load in production.
    await sql`ANALYZE`.execute(app.db);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
