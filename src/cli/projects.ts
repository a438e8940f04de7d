/**
 * Projects (one service, many apps):
 *
 *   npm run projects -- create SLUG [--name "Web app"] [--time-zone Europe/Kyiv ...] [--raw-retention-days N|none]
 *   npm run projects -- list
 *   npm run projects -- set SLUG [--name "..."] [--time-zone Europe/Kyiv ...]   replaces the zone list
 *   npm run projects -- set SLUG --raw-retention-days N|none                     raw events kept N days, or forever
 *   npm run projects -- delete SLUG --yes                                         events, summaries, keys
 *
 * Zones: the first is the project's main zone (the zone of /stats without `tz`); UTC is
 * always kept. Without --time-zone, `create` uses REPORT_TIME_ZONES; without
 * --raw-retention-days, RAW_RETENTION_DAYS (unset: forever). See docs/lifecycle.md.
 */
import { parseArgs } from 'node:util';
import { loadConfig, MAX_RAW_RETENTION_DAYS } from '../config.js';
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
  'usage: projects create SLUG [--name NAME] [--time-zone ZONE ...] [--raw-retention-days N|none]',
  '       projects list',
  '       projects set SLUG [--name NAME] [--time-zone ZONE ...] [--raw-retention-days N|none]',
  '       projects delete SLUG --yes',
].join('\n');

interface Settings {
  slug: string;
  name: string | undefined;
  zones: string[] | undefined;
  /** Days raw events are kept, null: forever, undefined: not given. */
  retention: number | null | undefined;
}

type Command =
  | ({ verb: 'create' } & Settings)
  | { verb: 'list' }
  | ({ verb: 'set' } & Settings)
  | { verb: 'delete'; slug: string };

const OPTIONS = {
  name: { type: 'string' },
  'time-zone': { type: 'string', multiple: true },
  'raw-retention-days': { type: 'string' },
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
  const retention = retentionOption(values['raw-retention-days']);
  if (verb === 'set' && name === undefined && zones === undefined && retention === undefined) {
    throw new UsageError('set needs --name, --time-zone or --raw-retention-days');
  }
  return { verb: verb as 'create' | 'set', slug, name, zones, retention };
}

/** `--raw-retention-days N` (1 to 36500) or `none` (forever). */
function retentionOption(raw: string | undefined): number | null | undefined {
  if (raw === undefined) return undefined;
  const text = raw.trim().toLowerCase();
  if (text === 'none') return null;
  const days = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!(days >= 1 && days <= MAX_RAW_RETENTION_DAYS)) {
    throw new UsageError(
      `--raw-retention-days must be a number of days from 1 to ${MAX_RAW_RETENTION_DAYS}, or none, got "${raw}"`,
    );
  }
  return days;
}

function checkZoneListOrUsage(zones: string[]): string[] {
  try {
    return checkZoneList(zones, '--time-zone');
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

const retained = (p: Project) =>
  p.rawRetentionDays === undefined ? 'raw kept forever' : `raw kept ${p.rawRetentionDays} days`;

function line(p: Project): string {
  return `${p.slug}\t${p.name}\t${p.zones.map((z) => z.name).join(',')}\t${retained(p)}\tcreated ${p.createdAt}\n`;
}

runCli('projects', parseCommand, async (db, command, out) => {
  switch (command.verb) {
    case 'create': {
      const config = loadConfig();
      const project = await createProject(db, {
        slug: command.slug,
        name: command.name ?? command.slug,
        zones: command.zones ?? config.reportTimeZones,
        rawRetentionDays:
          command.retention === undefined
            ? config.rawRetentionDays
            : (command.retention ?? undefined),
      });
      out(
        `Created project ${project.slug} (zones ${project.zones.map((z) => z.name).join(', ')}; ${retained(project)})\n`,
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
        rawRetentionDays: command.retention,
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
