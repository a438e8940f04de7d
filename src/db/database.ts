import type { Kysely } from 'kysely';
import type pg from 'pg';
import { type Config, redactDatabaseUrl } from '../config.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { createKysely, createPool, type PoolOptions } from './pool.js';
import type { Database } from './schema.js';
import { closeWorkPools, createWorkPools, type WorkPools } from './work-pools.js';

export interface DatabaseHandle {
  /** With the password: for opening another pool (e.g. for migrations), never for logs. */
  url: string;
  pool: pg.Pool;
  db: Kysely<Database>;
  /** Pools of the classes of work kept apart from the main one (stats reads, health). */
  work: WorkPools;
  /** What is in use, for logs; never contains the password. */
  description: string;
  /** Closes the pool, then stops embedded PostgreSQL if this handle started it. */
  close(): Promise<void>;
}

interface Logger {
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** The server sets these (see createPool); the CLIs do not. */
export type OpenDatabaseOptions = Pick<PoolOptions, 'statementTimeoutMs' | 'onIdleError'>;

/**
 * Connects to DATABASE_URL, or starts embedded PostgreSQL 16 (data under .data/) when it
 * is unset, so `npm start` works on a machine with nothing but Node.
 */
export async function openDatabase(
  config: Config,
  log: Logger,
  options: OpenDatabaseOptions = {},
): Promise<DatabaseHandle> {
  let url = config.databaseUrl;
  let stopEmbedded: (() => Promise<void>) | undefined;
  let description: string;
  if (url) {
    description = `external PostgreSQL at ${redactDatabaseUrl(url)}`;
  } else {
    const embedded = await startEmbeddedPostgres({
      dir: config.embeddedPgDir,
      port: config.embeddedPgPort,
      log: (message) => log.debug({ logger: 'postgres' }, message),
      notice: (message) => log.info({ logger: 'postgres' }, message),
    });
    url = embedded.url;
    stopEmbedded = embedded.stop;
    description = `embedded PostgreSQL 16 at ${redactDatabaseUrl(url)} (data in ${embedded.dir}${embedded.reused ? ', already running' : ''})`;
  }
  log.info({ database: description }, `using ${description}`);

  const pool = createPool(url, {
    max: config.dbPoolSize,
    ...options,
  });
  const db = createKysely(pool);
  const work = createWorkPools(url, config, options);
  return {
    url,
    pool,
    db,
    work,
    description,
    async close() {
      await Promise.all([db.destroy(), closeWorkPools(work)]); // ends the pools
      if (stopEmbedded) await stopEmbedded();
    },
  };
}
