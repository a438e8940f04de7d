import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import type { Database } from '../db/schema.js';

declare module 'fastify' {
  interface FastifyInstance {
    db: Kysely<Database>;
    pool: pg.Pool;
  }
}

/**
 * Makes the database available to routes. The app does not own the connection: the
 * server (or a test) opens it before building the app and closes it after app.close().
 */
export default fp(
  async (app: FastifyInstance, opts: { db: Kysely<Database>; pool: pg.Pool }) => {
    app.decorate('db', opts.db);
    app.decorate('pool', opts.pool);
  },
  { name: 'db' },
);
