import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { type AppOptions, buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { TestDatabase } from './database.js';

export interface TestApp {
  app: FastifyInstance;
  /** Every JSON log line the app wrote, parsed. */
  logs: Record<string, unknown>[];
}

/**
 * The app as `npm start` builds it from an empty environment (so with the documented
 * defaults), with `config` overriding single settings, e.g. `{ auth: 'required' }`.
 */
export async function buildTestApp(
  database: Pick<TestDatabase, 'db' | 'pool'>,
  config: Partial<AppOptions['config']> = {},
  options: Pick<AppOptions, 'keyCacheTtlMs' | 'maintenanceNow'> = {},
): Promise<TestApp> {
  const logs: Record<string, unknown>[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim()) logs.push(JSON.parse(line));
      done();
    },
  });
  const app = await buildApp({
    config: { ...loadConfig({}), ...config },
    db: database.db,
    pool: database.pool,
    logStream,
    ...options,
  });
  await app.ready();
  return { app, logs };
}
