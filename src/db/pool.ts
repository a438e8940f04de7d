import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

const DATE_OID = 1082;
const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * Dates stay 'YYYY-MM-DD' strings (a JS Date would drag in the process time zone), and
 * counts come back as numbers: they never exceed 2^53 here.
 */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === DATE_OID) return (value: string) => value;
    if (oid === INT8_OID || oid === NUMERIC_OID) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

export interface PoolOptions {
  max?: number;
  /** How long a query may wait for a connection before failing (and the API answers 503). */
  connectionTimeoutMillis?: number;
  applicationName?: string;
  /**
   * PostgreSQL cancels any statement running longer (SQLSTATE 57014); unset or 0 = no
   * limit. The server's pool sets it so no request can hang on a slow query; the importer
   * and migrations run without it.
   */
  statementTimeoutMs?: number;
  /** Told when an idle connection fails (the pool drops it and opens a new one later). */
  onIdleError?: (error: Error) => void;
  /**
   * PostgreSQL's max_parallel_workers_per_gather for the pool's sessions (its default when
   * unset). 0 keeps each query on one backend, hence one core.
   */
  parallelWorkersPerQuery?: number;
}

export function createPool(connectionString: string, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5000,
    idleTimeoutMillis: 30_000,
    application_name: options.applicationName ?? 'events-analytics',
    types,
    ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
    ...(options.parallelWorkersPerQuery !== undefined
      ? { options: `-c max_parallel_workers_per_gather=${options.parallelWorkersPerQuery}` }
      : {}),
  });
  // An idle client losing its connection (database restart, network cut) must not crash
  // the process: without a listener, the pool's 'error' event would throw. The pool drops
  // the client and the next query opens a new connection.
  pool.on('error', (error) => options.onIdleError?.(error));
  // A checked-out client has no listener of the pool's: if its connection drops, the query
  // in flight fails (and is answered 503) but the client's 'error' event would crash the
  // process. This listener stays for the client's life.
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  return pool;
}

export function createKysely(pool: pg.Pool): Kysely<Database> {
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
