/**
 * Erasure of users (right to be forgotten; docs/lifecycle.md):
 *
 *   npm run users -- delete USER_ID... --project SLUG
 *   npm run users -- delete --file ids.txt --project SLUG     one user id per line
 *
 * Every raw event of those users in the project is deleted and every summary corrected
 * exactly (analytics.erase_users), up to 500 users per transaction. One line per user
 * erased, one per id the project does not have (already erased, or never seen), then a
 * total. Exit 0 when done (unknown ids included), 2 on a usage mistake, 1 when the
 * database failed (users erased before it stay erased; running it again is safe).
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { eraseUsersInBatches } from '../lifecycle/erasure.js';
import { findProject, SLUG } from '../projects/repository.js';
import { runCli, UsageError } from './run-cli.js';

const USAGE =
  'usage: users delete USER_ID... --project SLUG | users delete --file FILE --project SLUG';
const MAX_USER_ID_CHARS = 256;

interface Command {
  verb: 'delete';
  project: string;
  ids: string[] | undefined;
  file: string | undefined;
}

function parseCommand(argv: string[]): Command {
  let parsed: { values: { project?: string; file?: string }; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { project: { type: 'string' }, file: { type: 'string' } },
    });
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  }
  const [verb, ...ids] = parsed.positionals;
  const { project, file } = parsed.values;
  if (verb !== 'delete') throw new UsageError(USAGE);
  // Deleting is not undone: the project is always named, never defaulted.
  if (project === undefined) throw new UsageError(`--project is required\n${USAGE}`);
  if (!SLUG.test(project)) {
    throw new UsageError(`--project must be a project slug ([a-z0-9-]{1,40}), got "${project}"`);
  }
  if (ids.length > 0 === (file !== undefined)) {
    throw new UsageError(`give user ids or --file, one of the two\n${USAGE}`);
  }
  return {
    verb,
    project,
    ids: ids.length > 0 ? checkIds(ids, (i) => `USER_ID ${i + 1}`) : undefined,
    file,
  };
}

/** Ids as events carry them: trimmed, 1 to 256 characters. */
function checkIds(ids: string[], where: (i: number) => string): string[] {
  return ids.map((raw, i) => {
    const id = raw.trim();
    if (id.length === 0 || id.length > MAX_USER_ID_CHARS) {
      throw new UsageError(`${where(i)}: a user id is 1 to ${MAX_USER_ID_CHARS} characters`);
    }
    return id;
  });
}

/** One id per line; blank lines are skipped, a trailing CR (Windows files) is dropped. */
function idsFromText(text: string, file: string): string[] {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  const numbered = lines.map((l, i) => [l, i + 1] as const).filter(([l]) => l.trim() !== '');
  return checkIds(
    numbered.map(([l]) => l),
    (i) => `${file}:${numbered[i]?.[1]}`,
  );
}

runCli('users', parseCommand, async (db, command, out) => {
  const project = await findProject(db, { slug: command.project });
  if (!project) throw new UsageError(`no project "${command.project}"`);
  const ids =
    command.ids ??
    idsFromText(await readFile(command.file as string, 'utf8'), command.file as string);
  if (ids.length === 0) throw new UsageError(`${command.file} has no user ids`);
  let users = 0;
  let events = 0;
  let unknown = 0;
  await eraseUsersInBatches(db, project.id, ids, (erased, batch) => {
    const found = new Map(erased.map((e) => [e.user_id, e.deleted_events]));
    for (const id of batch) {
      const deleted = found.get(id);
      if (deleted === undefined) {
        unknown += 1;
        out(`no user ${JSON.stringify(id)} in project ${project.slug}\n`);
      } else {
        users += 1;
        events += deleted;
        out(`erased ${JSON.stringify(id)}: ${deleted} events\n`);
      }
    }
  });
  out(
    `Erased ${users} users (${events} raw events) from project ${project.slug}; ${unknown} ids not found\n`,
  );
});
