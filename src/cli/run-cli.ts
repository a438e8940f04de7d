import type { Kysely } from 'kysely';
import type pg from 'pg';
import { pino } from 'pino';
import { ConfigError, loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/migrator.js';
import type { Database } from '../db/schema.js';
import { ApiError, isDatabaseUnavailable } from '../errors.js';

/** A mistake of the caller's (arguments, names): exit 2 with one message. */
export class UsageError extends Error {}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (isDatabaseUnavailable(error)) return `cannot reach the database: ${message}`;
  return message;
}

/**
 * Runs a small administrative CLI against DATABASE_URL (or the embedded PostgreSQL of
 * `npm start`), migrated first. Exit codes: 0 done, 2 usage (bad arguments, unknown or
 * taken names; also an ApiError, which carries a client's mistake), 1 the database failed.
 */
export function runCli<C>(
  name: string,
  parse: (argv: string[]) => C,
  main: (
    db: Kysely<Database>,
    command: C,
    out: (text: string) => void,
    pool: pg.Pool,
  ) => Promise<void>,
): void {
  const run = async () => {
    // Arguments first: a usage mistake needs no database.
    const command = parse(process.argv.slice(2));
    const database = await openDatabase(loadConfig(), pino({ level: 'warn' }));
    try {
      await migrateToLatest(database.db);
      await main(database.db, command, (text) => process.stdout.write(text), database.pool);
    } finally {
      await database.close().catch(() => {});
    }
  };
  run()
    .then(() => process.exit(0))
    .catch((error: unknown) => {
      process.stderr.write(`${name} failed: ${describe(error)}\n`);
      const usage =
        error instanceof UsageError || error instanceof ConfigError || error instanceof ApiError;
      process.exit(usage ? 2 : 1);
    });
}
