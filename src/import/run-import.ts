import type pg from 'pg';
import type { ValidEvent } from '../ingest/validate-event.js';
import type { WriteResult } from '../ingest/write-events.js';
import { BatchWriters } from './batch-writers.js';
import type { CsvRow, CsvSource } from './csv-rows.js';
import { rowToEvent } from './row-to-event.js';

/** Counts of committed batches only, so they match what is in the database. */
export interface ImportTotals {
  read: number;
  accepted: number;
  duplicates: number;
  invalid: number;
}

export interface BatchReport {
  read: number;
  accepted: number;
  /** Duplicates and invalid rows of the batch. */
  skipped: number;
}

/** Where the import reports as it goes (the CLI turns these into log lines and a bar). */
export interface ImportSink {
  rejected(row: CsvRow, reason: string): void;
  batchCommitted(batch: BatchReport, totals: ImportTotals): void;
  /** Rows parsed so far and bytes of the file read, after each batch is handed over. */
  progress(rowsParsed: number, bytesRead: number): void;
}

export interface ImportOptions {
  source: CsvSource;
  /** The database to write to; none for a dry run (validate and count only). */
  pool: pg.Pool | undefined;
  /** The project the events go to (its id). */
  projectId: number;
  /** Its raw retention: rows older than the horizon are rejected (outside_retention). */
  retentionDays?: number | undefined;
  batchSize: number;
  /** Batches written at once, each on its own connection. */
  inFlight: number;
  /** Aborting stops reading; the batches in flight still commit. */
  signal?: AbortSignal;
  sink: ImportSink;
  /** When the import started (rows more than 24 h after it are refused). */
  nowMs?: number;
}

export type ImportOutcome =
  | { status: 'complete' | 'interrupted'; totals: ImportTotals }
  /** Batches that committed before the failure are in `totals` and in the database. */
  | { status: 'failed'; totals: ImportTotals; error: unknown };

/**
 * The import pipeline: reads rows, validates them, and writes full batches while the next
 * is read. Never throws once it has started: a failure (a broken CSV, a lost database
 * connection) is an outcome that carries the totals of what was committed.
 */
export async function runImport(options: ImportOptions): Promise<ImportOutcome> {
  const { source, pool, batchSize, signal, sink } = options;
  const nowMs = options.nowMs ?? Date.now();
  const totals: ImportTotals = { read: 0, accepted: 0, duplicates: 0, invalid: 0 };
  let writers: BatchWriters | undefined;

  const commit = (read: number, invalid: number, result: WriteResult) => {
    totals.read += read;
    totals.invalid += invalid;
    totals.accepted += result.accepted;
    totals.duplicates += result.skipped;
    sink.batchCommitted(
      { read, accepted: result.accepted, skipped: result.skipped + invalid },
      { ...totals },
    );
  };

  try {
    if (pool) writers = await BatchWriters.open(pool, options.projectId, options.inFlight);
    let parsed = 0;
    let batch: ValidEvent[] = [];
    let batchRead = 0;
    let batchInvalid = 0;
    const handOver = async () => {
      const [read, invalid] = [batchRead, batchInvalid];
      if (writers) await writers.start(batch, (result) => commit(read, invalid, result));
      else commit(read, invalid, { accepted: batch.length, skipped: 0 });
      batch = [];
      batchRead = 0;
      batchInvalid = 0;
      sink.progress(parsed, source.bytesRead());
    };

    for await (const row of source.rows) {
      if (signal?.aborted || writers?.failed) break;
      parsed++;
      batchRead++;
      const result = rowToEvent(row, nowMs, options.retentionDays);
      if (result.ok) batch.push(result.event);
      else {
        batchInvalid++;
        sink.rejected(row, result.errors.map((e) => `${e.field} ${e.message}`).join('; '));
      }
      if (batchRead === batchSize) await handOver();
    }
    if (batchRead > 0 && !signal?.aborted && !writers?.failed) await handOver();
    await writers?.settle();
    const failed = writers?.failed;
    if (failed) return { status: 'failed', totals, error: failed.error };
    // Fresh statistics, so queries on the new rows are not planned for an empty table.
    if (pool && totals.accepted > 0) await pool.query('ANALYZE');
    return { status: signal?.aborted ? 'interrupted' : 'complete', totals };
  } catch (error) {
    await writers?.settle();
    return { status: 'failed', totals, error };
  } finally {
    writers?.close();
  }
}
