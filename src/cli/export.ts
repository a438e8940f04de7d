/**
 * Export of a project's raw events as the importer's CSV (docs/lifecycle.md#export):
 *
 *   npm run export -- FILE.csv [--project default] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--tz ZONE]
 *
 * The same rows and bytes as GET /events/export with Accept: text/csv; `npm run import`
 * reads the file back. Days are local days of --tz (default: the project's main zone),
 * both inclusive; without them, every stored event. A progress bar on stderr when it is a
 * terminal. The file is written to FILE.partial and renamed when complete.
 */
import { createWriteStream } from 'node:fs';
import { rename } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { dayStart, exportText } from '../lifecycle/export.js';
import { DEFAULT_PROJECT, findProject, SLUG } from '../projects/repository.js';
import { addDays, parseDay } from '../stats/dates.js';
import { runCli, UsageError } from './run-cli.js';

const USAGE =
  'usage: export FILE [--project SLUG] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--tz ZONE]';

interface Command {
  file: string;
  project: string;
  from: string | undefined;
  to: string | undefined;
  tz: string | undefined;
}

function day(option: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text) || parseDay(text) === undefined) {
    throw new UsageError(`--${option} must be a date as YYYY-MM-DD, got "${text}"`);
  }
  return text;
}

function parseCommand(argv: string[]): Command {
  let parsed: {
    values: { project?: string; from?: string; to?: string; tz?: string };
    positionals: string[];
  };
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        project: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        tz: { type: 'string' },
      },
    });
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  }
  const [file, ...rest] = parsed.positionals;
  if (file === undefined || rest.length > 0) throw new UsageError(USAGE);
  const project = parsed.values.project ?? DEFAULT_PROJECT;
  if (!SLUG.test(project)) {
    throw new UsageError(`--project must be a project slug ([a-z0-9-]{1,40}), got "${project}"`);
  }
  const from = day('from', parsed.values.from);
  const to = day('to', parsed.values.to);
  if (from !== undefined && to !== undefined && from > to) {
    throw new UsageError('--from must be on or before --to');
  }
  return { file, project, from, to, tz: parsed.values.tz };
}

runCli('export', parseCommand, async (_db, command, out, pool) => {
  const project = await findProject(_db, { slug: command.project });
  if (!project) throw new UsageError(`no project "${command.project}"`);
  const zone = command.tz ?? project.zones[0]?.name ?? 'UTC';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    throw new UsageError(`--tz must be an IANA time zone, got "${zone}"`);
  }
  const fromAt = command.from && (await dayStart(pool, command.from, zone));
  const toAt = command.to && (await dayStart(pool, addDays(command.to, 1), zone));
  const query = { projectId: project.id, fromAt, toAt };
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM events WHERE project_id = $1
       AND ($2::timestamptz IS NULL OR occurred_at >= $2) AND ($3::timestamptz IS NULL OR occurred_at < $3)`,
    [project.id, fromAt ?? null, toAt ?? null],
  );
  const total = rows[0]?.n ?? 0;
  const started = Date.now();
  const bar =
    process.stderr.isTTY === true
      ? new cliProgress.SingleBar({
          stream: process.stderr,
          format: '[{bar}] {percentage}% {value}/{total} events {rate} events/s',
          barCompleteChar: '#',
          barIncompleteChar: '.',
          barsize: 30,
          hideCursor: true,
        })
      : undefined;
  bar?.start(Math.max(1, total), 0, { rate: 0 });
  let done = 0;
  const partial = `${command.file}.partial`;
  try {
    await pipeline(
      Readable.from(
        exportText(pool, query, 'csv', (n) => {
          done += n;
          const rate = Math.round(done / Math.max(0.001, (Date.now() - started) / 1000));
          bar?.update(Math.min(done, total), { rate });
        }),
        { objectMode: false, highWaterMark: 1 },
      ),
      createWriteStream(partial),
    );
  } finally {
    bar?.stop();
  }
  await rename(partial, command.file);
  const seconds = (Date.now() - started) / 1000;
  out(
    `Exported ${done} events of project ${project.slug} to ${command.file} in ${seconds.toFixed(1)} s (${Math.round(done / Math.max(seconds, 0.001))} events/s)\n`,
  );
});
