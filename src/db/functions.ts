import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Kysely, sql } from 'kysely';
import type { Database } from './schema.js';

/**
 * sql/functions/ holds the one current definition of every SQL function the service
 * calls, and the composite types they pass between them. Migrations hold tables and data
 * moves only; after them, these files are applied as repeatable definitions into their own
 * schema, so a reader sees one version of each function, and a fresh database and an
 * upgraded one end with the same definitions.
 */
export const FUNCTIONS_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../sql/functions',
);

/** The schema the functions live in; callers name it (`analytics.ingest_events(...)`). */
export const FUNCTIONS_SCHEMA = 'analytics';

async function definitions(
  dir: string,
): Promise<{ files: string[]; texts: string[]; hash: string }> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const texts = await Promise.all(files.map((f) => readFile(path.join(dir, f), 'utf8')));
  const hash = createHash('sha256');
  for (const [i, file] of files.entries()) hash.update(`${file}\0${texts[i]}\0`);
  return { files, texts, hash: hash.digest('hex') };
}

/**
 * Replaces the functions schema with the definitions in sql/functions/ (files in name
 * order), in one transaction, unless the schema already holds exactly these files (its
 * comment records their hash). Serialised by an advisory lock, so instances starting at once
 * apply them once. Returns whether anything was applied.
 */
export async function applyFunctions(db: Kysely<Database>, dir = FUNCTIONS_DIR): Promise<boolean> {
  const { files, texts, hash } = await definitions(dir);
  const stamp = `sql/functions sha256:${hash}`;
  return db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(hashtext('events-analytics:functions'))`.execute(trx);
    const { rows } = await sql<{ comment: string | null }>`
      SELECT obj_description(oid, 'pg_namespace') AS comment FROM pg_namespace
      WHERE nspname = ${FUNCTIONS_SCHEMA}`.execute(trx);
    if (rows[0]?.comment === stamp) return false;
    await sql.raw(`DROP SCHEMA IF EXISTS ${FUNCTIONS_SCHEMA} CASCADE`).execute(trx);
    await sql.raw(`CREATE SCHEMA ${FUNCTIONS_SCHEMA}`).execute(trx);
    await sql.raw(`SET LOCAL search_path = ${FUNCTIONS_SCHEMA}, public`).execute(trx);
    for (const [i, text] of texts.entries()) {
      try {
        await sql.raw(text).execute(trx);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(`sql/functions/${files[i]}: ${reason}`);
      }
    }
    await sql.raw(`COMMENT ON SCHEMA ${FUNCTIONS_SCHEMA} IS '${stamp}'`).execute(trx);
    return true;
  });
}
