import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Kysely,
  type Migration,
  type MigrationProvider,
  type MigrationResult,
  Migrator,
  sql,
} from 'kysely';
import { applyFunctions } from './functions.js';
import type { Database } from './schema.js';

/**
 * migrations/ sits at the project root, two levels above this file both in src/db and in
 * the compiled dist/db, so the same path works for `tsx` and for `node dist/...`.
 */
export const MIGRATIONS_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../migrations',
);

/**
 * Migrations are plain SQL files, `NNNN_name.up.sql` with a matching `NNNN_name.down.sql`,
 * so they read the same in psql or Adminer as here. Kysely runs them in order, each batch
 * in one transaction, under its migration lock (safe when two instances start at once).
 */
export class SqlFileMigrationProvider implements MigrationProvider {
  constructor(private readonly dir = MIGRATIONS_DIR) {}

  async getMigrations(): Promise<Record<string, Migration>> {
    const files = await readdir(this.dir);
    const migrations: Record<string, Migration> = {};
    for (const file of files.filter((f) => f.endsWith('.up.sql')).sort()) {
      const name = file.slice(0, -'.up.sql'.length);
      const downFile = `${name}.down.sql`;
      if (!files.includes(downFile)) throw new Error(`migration ${name} has no ${downFile}`);
      const up = await readFile(path.join(this.dir, file), 'utf8');
      const down = await readFile(path.join(this.dir, downFile), 'utf8');
      migrations[name] = {
        // sql.raw with no parameters goes over the simple protocol: several statements are fine.
        up: async (db) => void (await sql.raw(up).execute(db)),
        down: async (db) => void (await sql.raw(down).execute(db)),
      };
    }
    return migrations;
  }
}

function migrator(db: Kysely<Database>): Migrator {
  return new Migrator({ db, provider: new SqlFileMigrationProvider() });
}

function unwrap(results: MigrationResult[] | undefined, error: unknown): MigrationResult[] {
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `migration ${failed?.migrationName ?? ''} failed: ${reason}`.replace('  ', ' '),
    );
  }
  return results ?? [];
}

/**
 * Applies every pending migration, then the SQL functions of sql/functions/ (when they
 * changed); returns the names of the migrations applied.
 */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  const { results, error } = await migrator(db).migrateToLatest();
  const applied = unwrap(results, error).map((r) => r.migrationName);
  await applyFunctions(db);
  return applied;
}

/** Reverts the latest applied migration; returns its name (none when nothing was applied). */
export async function migrateDown(db: Kysely<Database>): Promise<string[]> {
  const { results, error } = await migrator(db).migrateDown();
  return unwrap(results, error).map((r) => r.migrationName);
}
