import { pino } from 'pino';
import { buildApp, loggerOptions } from './app.js';
import { ConfigError, loadConfig, openAccessWarning } from './config.js';
import { openDatabase } from './db/database.js';
import { migrateToLatest } from './db/migrator.js';
import { ensureReportZones } from './stats/report-zones.js';

/** In-flight requests get this long after SIGTERM/SIGINT before the process gives up. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

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

  const database = await openDatabase(config, log);
  let app: Awaited<ReturnType<typeof buildApp>> | undefined;
  try {
    const applied = await migrateToLatest(database.db);
    log.info(
      { migrations: applied },
      applied.length ? `applied migrations ${applied.join(', ')}` : 'database schema is up to date',
    );
    const added = await ensureReportZones(database.db, config.reportTimeZones);
    if (added.length)
      log.info({ zones: added }, `built summaries for time zones ${added.join(', ')}`);
    app = await buildApp({ config, db: database.db, pool: database.pool });
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
