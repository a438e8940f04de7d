/**
 * Bulk CSV import:
 *
 *   npm run import -- data/events.csv [--project default] [--batch-size 5000] [--in-flight 2]
 *                     [--dry-run] [--rejects rejects.csv]
 *
 * Arguments, log lines, the progress bar and exit codes; the pipeline is src/import/.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import pg from 'pg';
import { pino } from 'pino';
import { ConfigError, loadConfig } from '../config.js';
import { type DatabaseHandle, openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/migrator.js';
import { isDatabaseUnavailable } from '../errors.js';
import { csvField } from '../import/csv-field.js';
import { CsvFormatError, CsvHeaderError, type CsvRow, openCsv } from '../import/csv-rows.js';
import { type ImportSink, type ImportTotals, runImport } from '../import/run-import.js';
import { DEFAULT_PROJECT, findProject, SLUG } from '../projects/repository.js';

const SHOWN_REJECTS = 20;
const DEFAULT_BATCH_SIZE = 5000;
const DEFAULT_IN_FLIGHT = 2;

class UsageError extends Error {}

interface ImportArgs {
  path: string;
  project: string;
  batchSize: number;
  inFlight: number;
  dryRun: boolean;
  rejectsPath: string | undefined;
}

const OPTIONS = {
  project: { type: 'string' },
  'batch-size': { type: 'string' },
  'in-flight': { type: 'string' },
  'dry-run': { type: 'boolean' },
  rejects: { type: 'string' },
} as const;

function integerOption(name: string, raw: string, max: number): number {
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    throw new UsageError(`--${name} must be a positive integer up to ${max}, got "${raw}"`);
  }
  return Number(raw);
}

function parseImportArgs(argv: string[]): ImportArgs {
  let parsed: ReturnType<
    typeof parseArgs<{ args: string[]; allowPositionals: true; options: typeof OPTIONS }>
  >;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1 || !positionals[0]) {
    throw new UsageError(
      'usage: import FILE [--project SLUG] [--batch-size 5000] [--in-flight 2] [--dry-run] [--rejects FILE]',
    );
  }
  const project = values.project ?? DEFAULT_PROJECT;
  if (!SLUG.test(project)) {
    throw new UsageError(`--project must be a project slug ([a-z0-9-]{1,40}), got "${project}"`);
  }
  return {
    path: positionals[0],
    project,
    batchSize: integerOption(
      'batch-size',
      values['batch-size'] ?? String(DEFAULT_BATCH_SIZE),
      100_000,
    ),
    inFlight: integerOption('in-flight', values['in-flight'] ?? String(DEFAULT_IN_FLIGHT), 8),
    dryRun: values['dry-run'] ?? false,
    rejectsPath: values.rejects,
  };
}

// While the progress bar is drawn on a terminal that stdout shares, a log line first
// clears the bar's line (the bar redraws below it).
let beforeLogLine = '';

/** One `key=value` line per event on stdout, as the original importer logged. */
function log(
  level: 'info' | 'warn',
  event: string,
  fields: Record<string, string | number> = {},
): void {
  const pairs = Object.entries(fields).map(([k, v]) => `${k}=${v}`);
  process.stdout.write(
    `${beforeLogLine}${new Date().toISOString()} [${level}] ${[event, ...pairs].join(' ')}\n`,
  );
}

/** The bar on stderr, only when it is a terminal (logs and pipes stay clean). */
function progressBar(totalBytes: number, started: number) {
  if (process.stderr.isTTY !== true)
    return { update() {}, stop() {}, print: (text: string) => process.stderr.write(text) };
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: '[{bar}] {percentage}% {rows} rows {rate} rows/s',
    barCompleteChar: '#',
    barIncompleteChar: '.',
    barsize: 30,
    hideCursor: true,
  });
  bar.start(Math.max(1, totalBytes), 0, { rows: 0, rate: 0 });
  if (process.stdout.isTTY === true) beforeLogLine = '\r\x1b[K';
  return {
    update(rows: number, bytes: number) {
      const rate = Math.round(rows / Math.max(0.001, (Date.now() - started) / 1000));
      bar.update(Math.min(bytes, totalBytes), { rows, rate });
    },
    stop() {
      bar.stop();
      beforeLogLine = '';
    },
    /** A line above the bar: clear the bar's line first; the bar redraws below. */
    print(text: string) {
      process.stderr.write(`\r\x1b[K${text}`);
    },
  };
}

/** Prints the first invalid rows on stderr and, with --rejects, all of them to a CSV. */
function rejectsReporter(rejects: WriteStream | undefined, print: (text: string) => void) {
  let count = 0;
  return (row: CsvRow, reason: string) => {
    count++;
    if (count <= SHOWN_REJECTS) print(`line ${row.line}: ${reason}\n`);
    if (count === SHOWN_REJECTS + 1 && !rejects) {
      print('(more invalid rows: use --rejects FILE to list them all)\n');
    }
    rejects?.write(`${row.line},${csvField(reason)},${csvField(row.raw)}\n`);
  };
}

/** One sentence for a failure once rows may have been committed. */
function describeFailure(error: unknown, totals: ImportTotals): string {
  const message = error instanceof Error ? error.message : String(error);
  const committed =
    totals.read > 0
      ? `the batches logged as done are committed, ${totals.accepted} new rows`
      : 'no batch was committed';
  if (error instanceof CsvFormatError)
    return `${message} (${committed}; fix the file, then re-run it to import the rest)`;
  const rerun = `${committed}; re-run the same file to import the rest`;
  if (isDatabaseUnavailable(error)) return `lost the database connection: ${message} (${rerun})`;
  if (error instanceof pg.DatabaseError) return `database error: ${message} (${rerun})`;
  return `unexpected error: ${error instanceof Error ? error.stack : message} (${rerun})`;
}

async function run(args: ImportArgs): Promise<number> {
  const started = Date.now();
  const info = await stat(args.path).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(
      `cannot read ${args.path}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`,
    );
  });
  if (!info.isFile()) throw new UsageError(`cannot read ${args.path}: not a file`);
  const source = await openCsv(args.path); // the header is checked before anything is written
  if (source.ignoredColumns.length > 0)
    log('warn', 'import_ignored_columns', { columns: source.ignoredColumns.join(',') });

  let database: DatabaseHandle | undefined;
  let rejects: WriteStream | undefined;
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    let projectId = 0;
    let retentionDays: number | undefined;
    if (!args.dryRun) {
      database = await openDatabase(loadConfig(), pino({ level: 'warn' }));
      await migrateToLatest(database.db);
      const project = await findProject(database.db, { slug: args.project });
      if (!project) {
        throw new UsageError(
          `no project "${args.project}" (create it with: npm run projects -- create ${args.project})`,
        );
      }
      projectId = project.id;
      retentionDays = project.rawRetentionDays;
    }
    if (args.rejectsPath) {
      rejects = createWriteStream(args.rejectsPath);
      rejects.write('line,reason,row\n');
    }
    log('info', 'import_start', {
      batch_size: args.batchSize,
      path: args.path,
      project: args.project,
      ...(args.dryRun ? { dry_run: 'true' } : {}),
    });

    const bar = progressBar(info.size, started);
    const sink: ImportSink = {
      rejected: rejectsReporter(rejects, bar.print),
      batchCommitted(batch, totals) {
        log('info', 'import_batch_done', {
          accepted: batch.accepted,
          read: batch.read,
          skipped: batch.skipped,
          total_accepted: totals.accepted,
          total_read: totals.read,
          total_skipped: totals.duplicates + totals.invalid,
        });
      },
      progress: (rows, bytes) => bar.update(rows, bytes),
    };
    const outcome = await runImport({
      source,
      pool: database?.pool,
      projectId,
      retentionDays,
      batchSize: args.batchSize,
      inFlight: args.inFlight,
      signal: interrupt.signal,
      sink,
    });
    if (outcome.status !== 'failed') bar.update(outcome.totals.read, info.size);
    bar.stop();

    const { totals } = outcome;
    const summary = {
      total_accepted: totals.accepted,
      total_read: totals.read,
      total_skipped: totals.duplicates + totals.invalid,
      total_duplicates: totals.duplicates,
      total_invalid: totals.invalid,
      rows_per_s: Math.round(totals.read / Math.max(0.001, (Date.now() - started) / 1000)),
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    };
    if (outcome.status === 'failed') {
      log('warn', 'import_failed', summary);
      process.stderr.write(`import failed: ${describeFailure(outcome.error, totals)}\n`);
      return 1;
    }
    if (outcome.status === 'interrupted') {
      log('warn', 'import_interrupted', summary);
      return 130;
    }
    log('info', 'import_complete', summary);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await database?.close();
    await new Promise<void>((resolve) => (rejects ? rejects.end(resolve) : resolve()));
  }
}

/** Failures before any row is read: usage, the file, the header, the database at start. */
function describeStartFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (
    error instanceof UsageError ||
    error instanceof CsvHeaderError ||
    error instanceof CsvFormatError ||
    error instanceof ConfigError
  )
    return message;
  if (isDatabaseUnavailable(error)) return `cannot reach the database: ${message}`;
  // What else fails before the first row is opening, starting or migrating the database.
  return `database error: ${message} (nothing was imported)`;
}

// Log lines piped into a reader that quits early (`| head`) must not stop the import.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});

Promise.resolve()
  .then(() => run(parseImportArgs(process.argv.slice(2))))
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    process.stderr.write(`import failed: ${describeStartFailure(error)}\n`);
    const usage =
      error instanceof UsageError ||
      error instanceof CsvHeaderError ||
      error instanceof ConfigError;
    process.exit(usage ? 2 : 1);
  });
