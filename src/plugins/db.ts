import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import type { Database } from '../db/schema.js';
import type { WorkPools } from '../db/work-pools.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The main pool: ingest, API keys, everything without a pool of its own. */
    db: Kysely<Database>;
    pool: pg.Pool;
    /** /stats reads, apart from ingest (src/db/work-pools.ts). */
    statsDb: { summary: Kysely<Database>; raw: Kysely<Database> };
    /** /healthz's own connection. */
    healthPool: pg.Pool;
  }
}

export interface DbPluginOptions {
  db: Kysely<Database>;
  pool: pg.Pool;
  /** Pools of other classes of work; each defaults to the main pool (tests). */
  work?: Partial<WorkPools>;
}

/**
 * Makes the database available to routes. The app does not own the connections: the
 * server (or a test) opens them before building the app and closes them after app.close().
 */
export default fp(
  async (app: FastifyInstance, opts: DbPluginOptions) => {
    app.decorate('db', opts.db);
    app.decorate('pool', opts.pool);
    app.decorate('statsDb', {
      summary: opts.work?.summaryReads ?? opts.db,
      raw: opts.work?.rawReads ?? opts.db,
    });
    app.decorate('healthPool', opts.work?.health ?? opts.pool);
  },
  { name: 'db' },
);
