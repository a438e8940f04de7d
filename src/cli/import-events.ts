/**
 * Bulk CSV import:
 *
 *   npm run import -- data/events.csv [--batch-size 5000] [--dry-run] [--rejects rejects.csv]
 *
 * Streams the file, validates each row with the same rules as POST /events, and writes
 * batches through COPY + ingest_events() (duplicates skipped, summaries exact). Each
 * batch commits on its own, so re-running after a crash imports exactly what is missing.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../config.js';
import { type DatabaseHandle, openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/migrator.js';
import { isDatabaseUnavailable } from '../errors.js';
import { csvField } from '../import/csv-field.js';
import { CsvHeaderError, type CsvRow, openCsv } from '../import/csv-rows.js';
import { rowToEvent } from '../import/row-to-event.js';
import { StagingWriter } from '../import/staging-writer.js';
import type { ValidEvent } from '../ingest/validate-event.js';

const SHOWN_REJECTS = 20;

class UsageError extends Error {}

interface ImportArgs {
  path: string;
  batchSize: number;
  dryRun: boolean;
  rejectsPath: string | undefined;
}

const OPTIONS = {
  'batch-size': { type: 'string' },
  'dry-run': { type: 'boolean' },
  rejects: { type: 'string' },
} as const;

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
    throw new UsageError('usage: import FILE [--batch-size 5000] [--dry-run] [--rejects FILE]');
  }
  const rawSize = values['batch-size'] ?? '5000';
  if (!/^\d+$/.test(rawSize) || Number(rawSize) < 1 || Number(rawSize) > 100_000) {
    throw new UsageError(`--batch-size must be a positive integer up to 100000, got "${rawSize}"`);
  }
  return {
    path: positionals[0],
    batchSize: Number(rawSize),
    dryRun: values['dry-run'] ?? false,
    rejectsPath: values.rejects,
  };
}

/** One `key=value` line per event on stdout, as the original importer logged. */
function log(
  level: 'info' | 'warn',
  event: string,
  fields: Record<string, string | number> = {},
): void {
  const pairs = Object.entries(fields).map(([k, v]) => `${k}=${v}`);
  process.stdout.write(`${new Date().toISOString()} [${level}] ${[event, ...pairs].join(' ')}\n`);
}

class Progress {
  private lastDraw = 0;
  constructor(
    private readonly enabled: boolean,
    private readonly totalBytes: number,
    private readonly started: number,
  ) {}

  draw(rows: number, bytes: number, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 200) return;
    this.lastDraw = now;
    const share = this.totalBytes > 0 ? Math.min(1, bytes / this.totalBytes) : 1;
    const width = 30;
    const filled = Math.round(share * width);
    const rate = Math.round(rows / Math.max(0.001, (now - this.started) / 1000));
    process.stderr.write(
      `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(share * 100).toFixed(1)}% ${rows} rows ${rate} rows/s `,
    );
  }

  done(): void {
    if (this.enabled) process.stderr.write('\n');
  }
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
  let writer: StagingWriter | undefined;
  let rejects: WriteStream | undefined;
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // Totals of committed batches only, so they match what is in the database.
  const totals = { read: 0, accepted: 0, duplicates: 0, invalid: 0 };
  let parsed = 0;
  let rejected = 0;
  const progress = new Progress(process.stderr.isTTY === true, info.size, started);
  const summary = () => ({
    total_accepted: totals.accepted,
    total_read: totals.read,
    total_skipped: totals.duplicates + totals.invalid,
    total_duplicates: totals.duplicates,
    total_invalid: totals.invalid,
    rows_per_s: Math.round(totals.read / Math.max(0.001, (Date.now() - started) / 1000)),
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  });

  try {
    if (!args.dryRun) {
      const config = loadConfig();
      database = await openDatabase(config, pino({ level: 'warn' }));
      await migrateToLatest(database.db);
      writer = await StagingWriter.open(database.pool);
    }
    if (args.rejectsPath) {
      rejects = createWriteStream(args.rejectsPath);
      rejects.write('line,reason,row\n');
    }
    log('info', 'import_start', {
      batch_size: args.batchSize,
      path: args.path,
      ...(args.dryRun ? { dry_run: 'true' } : {}),
    });

    const reject = (row: CsvRow, reason: string) => {
      rejected++;
      if (rejected <= SHOWN_REJECTS) process.stderr.write(`line ${row.line}: ${reason}\n`);
      if (rejected === SHOWN_REJECTS + 1 && !rejects) {
        process.stderr.write('(more invalid rows: use --rejects FILE to list them all)\n');
      }
      rejects?.write(`${row.line},${csvField(reason)},${csvField(row.raw)}\n`);
    };

    // One batch is written while the next is parsed.
    const flush = async (events: ValidEvent[], read: number, invalid: number) => {
      const result = writer ? await writer.write(events) : { accepted: events.length, skipped: 0 };
      totals.read += read;
      totals.invalid += invalid;
      totals.accepted += result.accepted;
      totals.duplicates += result.skipped;
      log('info', 'import_batch_done', {
        accepted: result.accepted,
        read,
        skipped: result.skipped + invalid,
        total_accepted: totals.accepted,
        total_read: totals.read,
        total_skipped: totals.duplicates + totals.invalid,
      });
    };

    let inFlight: Promise<void> | undefined;
    let batch: ValidEvent[] = [];
    let batchRead = 0;
    let batchInvalid = 0;
    const now = Date.now();
    for await (const row of source.rows) {
      if (interrupted) break;
      parsed++;
      batchRead++;
      const result = rowToEvent(row, now);
      if (result.ok) batch.push(result.event);
      else {
        batchInvalid++;
        reject(row, result.errors.map((e) => `${e.field} ${e.message}`).join('; '));
      }
      if (batchRead === args.batchSize) {
        await inFlight;
        progress.draw(parsed, source.bytesRead());
        if (interrupted) break;
        inFlight = flush(batch, batchRead, batchInvalid);
        batch = [];
        batchRead = 0;
        batchInvalid = 0;
      }
    }
    await inFlight;
    if (!interrupted && batchRead > 0) await flush(batch, batchRead, batchInvalid);
    progress.draw(parsed, source.bytesRead(), true);
    progress.done();

    if (interrupted) {
      log('warn', 'import_interrupted', summary());
      return 130;
    }
    log('info', 'import_complete', summary());
    return 0;
  } catch (error) {
    progress.done();
    if (totals.accepted > 0) log('warn', 'import_failed', summary());
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    writer?.close();
    await database?.close();
    await new Promise<void>((resolve) => (rejects ? rejects.end(resolve) : resolve()));
  }
}

function describe(error: unknown): string {
  if (error instanceof UsageError || error instanceof CsvHeaderError) return error.message;
  const message = error instanceof Error ? error.message : String(error);
  if (isDatabaseUnavailable(error)) return `cannot reach the database: ${message}`;
  return `database error: ${message} (batches logged as done are committed; re-run to import the rest)`;
}

Promise.resolve()
  .then(() => run(parseImportArgs(process.argv.slice(2))))
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    process.stderr.write(`import failed: ${describe(error)}\n`);
    process.exit(error instanceof UsageError || error instanceof CsvHeaderError ? 2 : 1);
  });
