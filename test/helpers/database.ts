import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { inject } from 'vitest';
import { createKysely, createPool } from '../../src/db/pool.js';
import type { Database } from '../../src/db/schema.js';

export interface TestDatabase {
  name: string;
  url: string;
  pool: pg.Pool;
  db: Kysely<Database>;
  close(): Promise<void>;
}

export function databaseUrl(name: string): string {
  const parsed = new URL(inject('pgAdminUrl'));
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

async function admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/**
 * A database of its own for a test file: a copy of the migrated template, or an empty one
 * (`migrated: false`) for migration tests. Dropped by close().
 */
export async function createTestDatabase(
  options: { migrated?: boolean } = {},
): Promise<TestDatabase> {
  const name = `events_test_${randomBytes(6).toString('hex')}`;
  const template = options.migrated === false ? 'template0' : inject('pgTemplate');
  await admin((c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
  const url = databaseUrl(name);
  const pool = createPool(url, { max: 10 });
  const db = createKysely(pool);
  return {
    name,
    url,
    pool,
    db,
    async close() {
      await db.destroy();
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
