import { pino } from 'pino';
import { loggerOptions } from '../app.js';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { migrateDown, migrateToLatest } from '../db/migrator.js';

/** `migrate up` applies every pending migration; `migrate down` reverts the latest one. */
async function main(direction: string | undefined): Promise<void> {
  if (direction !== 'up' && direction !== 'down') {
    throw new Error('usage: migrate up|down');
  }
  const config = loadConfig();
  const log = pino(loggerOptions(config.logLevel));
  const database = await openDatabase(config, log);
  try {
    if (direction === 'up') {
      const applied = await migrateToLatest(database.db);
      log.info(
        { migrations: applied },
        applied.length ? `applied ${applied.join(', ')}` : 'already up to date',
      );
    } else {
      const reverted = await migrateDown(database.db);
      log.info(
        { migrations: reverted },
        reverted.length ? `reverted ${reverted.join(', ')}` : 'nothing to revert',
      );
    }
  } finally {
    await database.close();
  }
}

main(process.argv[2]).catch((error: unknown) => {
  process.stderr.write(
    `migrate failed: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
