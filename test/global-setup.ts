import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { normalizeDatabaseUrl } from '../src/config.js';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { createKysely, createPool } from '../src/db/pool.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A URL of the test server's maintenance database (any database works for CREATE DATABASE). */
    pgAdminUrl: string;
    /** A migrated database that each test file clones. */
    pgTemplate: string;
  }
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export default async function setup(project: TestProject) {
  const given = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
  let adminUrl: string;
  let stop: () => Promise<void> = async () => {};
  if (given) {
    adminUrl = normalizeDatabaseUrl(given);
  } else {
    const dir = mkdtempSync(path.join(tmpdir(), 'events-test-pg-'));
    chmodSync(dir, 0o755); // as root, PostgreSQL runs as user postgres and must reach its data
    const embedded = await startEmbeddedPostgres({
      dir: path.join(dir, 'data'),
      port: 0,
      log: () => {},
      unsafeFast: true,
    });
    adminUrl = embedded.url;
    stop = async () => {
      await embedded.stop();
      rmSync(dir, { recursive: true, force: true });
    };
  }

  const template = `events_test_template_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${template}`);
  await admin.query(`CREATE DATABASE ${template}`);
  const pool = createPool(withDatabase(adminUrl, template), { max: 1 });
  const db = createKysely(pool);
  await migrateToLatest(db);
  await db.destroy();

  project.provide('pgAdminUrl', adminUrl);
  project.provide('pgTemplate', template);

  return async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${template}`);
    await admin.end();
    await stop();
  };
}
