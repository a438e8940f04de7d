/**
 * API keys:
 *
 *   npm run keys -- create NAME [--scope write|read|all]   prints the new key on the last line
 *   npm run keys -- list                                    names, scopes, dates (never keys)
 *   npm run keys -- revoke NAME
 *
 * Uses DATABASE_URL, or the embedded PostgreSQL of `npm start` (shared if it is running).
 */
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createKey, listKeys, revokeKey, SCOPES, type Scope } from '../auth/keys.js';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/migrator.js';
import { isDatabaseUnavailable } from '../errors.js';

const USAGE = 'usage: keys create NAME [--scope write|read|all] | keys list | keys revoke NAME';
const NAME = /^[A-Za-z0-9._:-]{1,64}$/;

class UsageError extends Error {}

type Command =
  | { verb: 'create'; name: string; scope: Scope }
  | { verb: 'list' }
  | { verb: 'revoke'; name: string };

function parseCommand(argv: string[]): Command {
  let parsed: { values: { scope?: string }; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { scope: { type: 'string' } },
    });
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  }
  const [verb, name, ...rest] = parsed.positionals;
  if (rest.length > 0) throw new UsageError(USAGE);
  if (verb === 'list' && name === undefined) return { verb };
  if ((verb === 'create' || verb === 'revoke') && name !== undefined) {
    if (!NAME.test(name)) {
      throw new UsageError(`NAME must be 1-64 characters of A-Z a-z 0-9 . _ : -, got "${name}"`);
    }
    if (verb === 'revoke') return { verb, name };
    const scope = parsed.values.scope ?? 'write';
    if (!(SCOPES as readonly string[]).includes(scope)) {
      throw new UsageError(`--scope must be one of ${SCOPES.join(', ')}, got "${scope}"`);
    }
    return { verb, name, scope: scope as Scope };
  }
  throw new UsageError(USAGE);
}

async function run(command: Command): Promise<number> {
  const database = await openDatabase(loadConfig(), pino({ level: 'warn' }));
  try {
    await migrateToLatest(database.db);
    switch (command.verb) {
      case 'create': {
        const taken = (await listKeys(database.db)).some((k) => k.name === command.name);
        if (taken) throw new UsageError(`a key named "${command.name}" exists already`);
        const key = await createKey(database.db, command.name, command.scope);
        process.stdout.write(
          `Created key "${command.name}" with scope ${command.scope}. It is shown once; store it now:\n${key}\n`,
        );
        return 0;
      }
      case 'list': {
        const keys = await listKeys(database.db);
        if (keys.length === 0) process.stdout.write('no keys\n');
        for (const k of keys) {
          const state = k.revoked_at ? `revoked ${k.revoked_at}` : 'active';
          process.stdout.write(
            `${k.name}\t${k.scope}\tcreated ${k.created_at}\tlast used ${k.last_used_at ?? 'never'}\t${state}\n`,
          );
        }
        return 0;
      }
      case 'revoke': {
        if (!(await revokeKey(database.db, command.name))) {
          throw new UsageError(`no active key named "${command.name}"`);
        }
        process.stdout.write(`Revoked key "${command.name}" (it stops working within 5 s)\n`);
        return 0;
      }
    }
  } finally {
    await database.close().catch(() => {});
  }
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (isDatabaseUnavailable(error)) return `cannot reach the database: ${message}`;
  return message;
}

Promise.resolve()
  .then(() => run(parseCommand(process.argv.slice(2))))
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    process.stderr.write(`keys failed: ${describe(error)}\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  });
