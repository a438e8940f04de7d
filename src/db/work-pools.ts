import type { Kysely } from 'kysely';
import type pg from 'pg';
import type { Config } from '../config.js';
import { createKysely, createPool, type PoolOptions } from './pool.js';
import type { Database } from './schema.js';

/**
 * Connections per class of work, apart from the main pool (ingest, API keys), so that no
 * class can take another's connections (issue 19, finding 2): dozens of slow /stats
 * requests once held all ten connections of one shared pool, and ingest and /healthz
 * waited behind them until they failed.
 */
export interface WorkPools {
  /** /stats answered from summaries (STATS_POOL_SIZE connections). */
  summaryReads: Kysely<Database>;
  /**
   * /stats that read raw events, in zones without summaries: RAW_STATS_CONCURRENCY
   * connections, as many as such queries may run at once (the rest wait without one, or
   * are answered 503 busy). Each query stays on one core (no parallel workers), so they
   * cannot take every core of the database from ingest either.
   */
  rawReads: Kysely<Database>;
  /** GET /healthz: one connection of its own, never behind a query. */
  health: pg.Pool;
}

export type WorkPoolConfig = Pick<Config, 'statsPoolSize' | 'rawStatsConcurrency'>;

/** Opens the pools (lazily: connections are made on first use). */
export function createWorkPools(
  url: string,
  config: WorkPoolConfig,
  options: Pick<PoolOptions, 'statementTimeoutMs' | 'onIdleError'> = {},
): WorkPools {
  return {
    summaryReads: createKysely(
      createPool(url, {
        ...options,
        max: config.statsPoolSize,
        applicationName: 'events-analytics-stats',
      }),
    ),
    rawReads: createKysely(
      createPool(url, {
        ...options,
        max: config.rawStatsConcurrency,
        applicationName: 'events-analytics-raw-stats',
        parallelWorkersPerQuery: 0,
      }),
    ),
    health: createPool(url, {
      onIdleError: options.onIdleError,
      max: 1,
      connectionTimeoutMillis: 2000,
      applicationName: 'events-analytics-health',
    }),
  };
}

export async function closeWorkPools(pools: WorkPools): Promise<void> {
  await Promise.all([pools.summaryReads.destroy(), pools.rawReads.destroy(), pools.health.end()]);
}
