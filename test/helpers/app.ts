import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import type { TestDatabase } from './database.js';

export interface TestApp {
  app: FastifyInstance;
  /** Every JSON log line the app wrote, parsed. */
  logs: Record<string, unknown>[];
}

export async function buildTestApp(
  database: Pick<TestDatabase, 'db' | 'pool'>,
  config: Partial<{ maxBatchEvents: number; maxBodyBytes: number; logLevel: string }> = {},
): Promise<TestApp> {
  const logs: Record<string, unknown>[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      done();
    },
  });
  const app = await buildApp({
    config: {
      logLevel: (config.logLevel ?? 'info') as 'info',
      maxBatchEvents: config.maxBatchEvents ?? 5000,
      maxBodyBytes: config.maxBodyBytes ?? 10 * 1024 * 1024,
    },
    db: database.db,
    pool: database.pool,
    logStream,
  });
  await app.ready();
  return { app, logs };
}
