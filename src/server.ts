import { pino } from 'pino';
import { buildApp, loggerOptions } from './app.js';
import { ConfigError, loadConfig, openAccessWarning } from './config.js';
import { openDatabase } from './db/database.js';
import { EmbeddedPostgresError } from './db/embedded-postgres.js';
import { migrateToLatest } from './db/migrator.js';
import { createKysely, createPool } from './db/pool.js';
import { ensureDefaultProjectZones } from './projects/default-zones.js';

/** In-flight requests get this long after SIGTERM/SIGINT before the process gives up. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

/**
 * Migrations, then the summaries of reporting zones added to the default project since the
 * last start (REPORT_TIME_ZONES), on a connection of their own without the statement
 * timeout: a backfill on a large table may rightly take longer than the serving pool allows.
 */
async function migrate(
  url: string,
  reportTimeZones: string[],
): Promise<{ applied: string[]; zones: string[] }> {
  const db = createKysely(createPool(url, { max: 1, applicationName: 'events-analytics-migrate' }));
  try {
    const applied = await migrateToLatest(db);
    return { applied, zones: await ensureDefaultProjectZones(db, reportTimeZones) };
  } finally {
    await db.destroy();
  }
}

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const log = pino(loggerOptions(config.logLevel));

  const database = await openDatabase(config, log, {
    statementTimeoutMs: config.statementTimeoutMs,
    onIdleError: (error) =>
      log.warn(
        { logger: 'db', code: (error as { code?: unknown }).code },
        `an idle database connection failed (${error.message}); the pool opens a new one when needed`,
      ),
  }).catch((error: unknown) => {
    // Something the user can fix: one sentence, no stack trace.
    if (!(error instanceof EmbeddedPostgresError)) throw error;
    log.fatal(error.message);
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  });
  let app: Awaited<ReturnType<typeof buildApp>> | undefined;
  try {
    const { applied, zones } = await migrate(database.url, config.reportTimeZones);
    log.info(
      { migrations: applied },
      applied.length ? `applied migrations ${applied.join(', ')}` : 'database schema is up to date',
    );
    if (zones.length) {
      log.info({ zones }, `built summaries of project default for time zones ${zones.join(', ')}`);
    }
    app = await buildApp({
      config,
      db: database.db,
      pool: database.pool,
      work: database.work,
    });
    await app.listen({ port: config.port, host: config.host });
    const openAccess = openAccessWarning(config);
    if (openAccess) log.warn(openAccess);
  } catch (error) {
    log.fatal(
      { err: error },
      `start-up failed: ${error instanceof Error ? error.message : String(error)}`,
    );
    await app?.close().catch(() => {});
    await database.close().catch(() => {});
    process.exit(1);
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, `received ${signal}, shutting down`);
    const timer = setTimeout(() => {
      log.error('shutdown timed out; exiting');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    try {
      await app?.close(); // stops accepting, waits for in-flight requests
      await database.close(); // closes the pool, stops embedded PostgreSQL
      log.info('shutdown complete');
      process.exit(0);
    } catch (error) {
      log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
