/**
 * Projects (one service, many apps):
 *
 *   npm run projects -- create SLUG [--name "Web app"] [--time-zone Europe/Kyiv ...]
 *   npm run projects -- list
 *   npm run projects -- set SLUG [--name "..."] [--time-zone Europe/Kyiv ...]   replaces the zone list
 *   npm run projects -- delete SLUG --yes                                         events, summaries, keys
 *
 * Zones: the first is the project's main zone (the zone of /stats without `tz`); UTC is
 * always kept. Without --time-zone, `create` uses REPORT_TIME_ZONES.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import {
  createProject,
  deleteProject,
  listProjects,
  type Project,
  SLUG,
  updateProject,
} from '../projects/repository.js';
import { checkZoneList } from '../projects/zones.js';
import { runCli, UsageError } from './run-cli.js';

const USAGE = [
  'usage: projects create SLUG [--name NAME] [--time-zone ZONE ...]',
  '       projects list',
  '       projects set SLUG [--name NAME] [--time-zone ZONE ...]',
  '       projects delete SLUG --yes',
].join('\n');

type Command =
  | { verb: 'create'; slug: string; name: string | undefined; zones: string[] | undefined }
  | { verb: 'list' }
  | { verb: 'set'; slug: string; name: string | undefined; zones: string[] | undefined }
  | { verb: 'delete'; slug: string };

const OPTIONS = {
  name: { type: 'string' },
  'time-zone': { type: 'string', multiple: true },
  yes: { type: 'boolean' },
} as const;

function parseCommand(argv: string[]): Command {
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; allowPositionals: true; options: typeof OPTIONS }>
  >;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  const [verb, slug, ...rest] = positionals;
  if (rest.length > 0) throw new UsageError(USAGE);
  if (verb === 'list' && slug === undefined) return { verb };
  if (slug === undefined || !['create', 'set', 'delete'].includes(verb ?? '')) {
    throw new UsageError(USAGE);
  }
  if (!SLUG.test(slug)) {
    throw new UsageError(`SLUG must be 1-40 characters of a-z 0-9 -, got "${slug}"`);
  }
  const name = values.name?.trim();
  if (name !== undefined && (name.length === 0 || name.length > 200)) {
    throw new UsageError('--name must be 1 to 200 characters');
  }
  const zones = values['time-zone'] && checkZoneListOrUsage(values['time-zone']);
  if (verb === 'delete') {
    if (!values.yes) throw new UsageError(`deleting ${slug} deletes its data: add --yes`);
    return { verb, slug };
  }
  if (verb === 'set' && name === undefined && zones === undefined) {
    throw new UsageError('set needs --name or --time-zone');
  }
  return { verb: verb as 'create' | 'set', slug, name, zones };
}

function checkZoneListOrUsage(zones: string[]): string[] {
  try {
    return checkZoneList(zones, '--time-zone');
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function line(p: Project): string {
  return `${p.slug}\t${p.name}\t${p.zones.map((z) => z.name).join(',')}\tcreated ${p.createdAt}\n`;
}

runCli('projects', parseCommand, async (db, command, out) => {
  switch (command.verb) {
    case 'create': {
      const zones = command.zones ?? loadConfig().reportTimeZones;
      const project = await createProject(db, {
        slug: command.slug,
        name: command.name ?? command.slug,
        zones,
      });
      out(
        `Created project ${project.slug} (zones ${project.zones.map((z) => z.name).join(', ')})\n`,
      );
      return;
    }
    case 'list':
      for (const project of await listProjects(db)) out(line(project));
      return;
    case 'set': {
      const { project, built } = await updateProject(db, command.slug, {
        name: command.name,
        zones: command.zones,
      });
      out(line(project));
      if (built.length > 0) out(`built summaries for ${built.join(', ')}\n`);
      return;
    }
    case 'delete': {
      const deleted = await deleteProject(db, command.slug);
      out(
        `Deleted project ${deleted.slug}: ${deleted.events} events, ${deleted.users} users, ${deleted.summary_rows} summary rows, ${deleted.keys} keys\n`,
      );
      return;
    }
  }
});
