import type pg from 'pg';
import { REQUIRED_COLUMNS } from '../import/csv-rows.js';

/**
 * Export of raw events (docs/lifecycle.md#export): a project's events of a range, ordered
 * by time, read in bounded batches by keyset pagination (each batch one short query on
 * the (project_id, occurred_at) index, no transaction held open, nothing pinned), and
 * formatted as NDJSON or as the importer's CSV. The generator reads the next batch only
 * when the previous one was taken, so a slow client holds one batch in memory at most.
 */

export type ExportFormat = 'ndjson' | 'csv';

export interface ExportQuery {
  projectId: number;
  /** Instants (ISO), from inclusive, to exclusive; undefined: unbounded. */
  fromAt: string | undefined;
  toAt: string | undefined;
  userId?: string | undefined;
  eventType?: string | undefined;
}

/** Rows per query: large enough that a query's overhead is small, small enough to stream. */
export const EXPORT_BATCH_ROWS = 10_000;

interface Row {
  at: string;
  source: number;
  event_id: string;
  occurred_at: string;
  user_id: string;
  event_type: string;
  properties: string;
}

/** The rows of the export in (occurred_at, source, event_id) order, a batch at a time. */
export async function* exportBatches(
  pool: pg.Pool,
  query: ExportQuery,
  batchRows = EXPORT_BATCH_ROWS,
): AsyncGenerator<Row[]> {
  // Only the conditions that apply, each sargable, so that every batch is an index range
  // scan of the partitions from the last row on (an `$n IS NULL OR ...` form would leave
  // occurred_at in a filter: no pruning, and each batch would re-read every earlier row).
  const values: unknown[] = [query.projectId];
  const where = ['project_id = $1'];
  const param = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  if (query.fromAt !== undefined) where.push(`occurred_at >= ${param(query.fromAt)}::timestamptz`);
  if (query.toAt !== undefined) where.push(`occurred_at < ${param(query.toAt)}::timestamptz`);
  if (query.userId !== undefined) where.push(`user_id = ${param(query.userId)}`);
  if (query.eventType !== undefined) where.push(`event_type = ${param(query.eventType)}`);
  const fixed = values.length;
  // ORDER BY names the table's columns (e.): the output's occurred_at is the formatted text,
  // and ordering by it would sort every row of the range in each batch.
  const text = (keyset: boolean) => `
    SELECT occurred_at::text AS at, source, event_id::text AS event_id,
           to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS occurred_at,
           user_id, event_type, properties::text AS properties
    FROM events e
    WHERE ${where.join(' AND ')}${
      keyset
        ? ` AND occurred_at >= $${fixed + 1}::timestamptz
            AND (occurred_at > $${fixed + 1}::timestamptz
                 OR (source, event_id) > ($${fixed + 2}::smallint, $${fixed + 3}::uuid))`
        : ''
    }
    ORDER BY e.occurred_at, e.source, e.event_id
    LIMIT ${Math.trunc(batchRows)}`;
  let after: Row | undefined;
  for (;;) {
    // Timestamps as text: exact (microseconds) for the keyset, milliseconds (what is
    // stored) in ISO UTC for the file. Properties as stored JSON text, never parsed here.
    const { rows } = await pool.query<Row>(
      after === undefined
        ? { text: text(false), values }
        : { text: text(true), values: [...values, after.at, after.source, after.event_id] },
    );
    if (rows.length > 0) yield rows;
    if (rows.length < batchRows) return;
    after = rows[rows.length - 1];
  }
}

/** A CSV field: quoted when it must be (RFC 4180), inner quotes doubled. */
function csvField(text: string): string {
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export const CSV_HEADER = `${REQUIRED_COLUMNS.join(',')}\n`;

function csvLines(rows: Row[]): string {
  let out = '';
  for (const r of rows) {
    out += `${r.event_id},${r.occurred_at},${csvField(r.user_id)},${csvField(r.event_type)},"${r.properties.replaceAll('"', '""')}"\n`;
  }
  return out;
}

function ndjsonLines(rows: Row[]): string {
  let out = '';
  for (const r of rows) {
    // properties is JSON already (jsonb's text): inserted as it is, never re-encoded.
    out += `{"event_id":"${r.event_id}","occurred_at":"${r.occurred_at}","user_id":${JSON.stringify(r.user_id)},"event_type":${JSON.stringify(r.event_type)},"properties":${r.properties}}\n`;
  }
  return out;
}

/**
 * The export as text chunks (a header first for CSV), one chunk per batch; `counted` is
 * told how many events each chunk holds.
 */
export async function* exportText(
  pool: pg.Pool,
  query: ExportQuery,
  format: ExportFormat,
  counted: (events: number) => void = () => {},
): AsyncGenerator<string> {
  if (format === 'csv') yield CSV_HEADER;
  for await (const rows of exportBatches(pool, query)) {
    yield format === 'csv' ? csvLines(rows) : ndjsonLines(rows);
    counted(rows.length);
  }
}

/** The instant a local day starts in a zone (PostgreSQL's tz database, as /stats uses). */
export async function dayStart(pool: pg.Pool, day: string, zone: string): Promise<string> {
  const { rows } = await pool.query<{ at: string }>(
    `SELECT to_char(($1::date::timestamp AT TIME ZONE $2) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS at`,
    [day, zone],
  );
  return rows[0]?.at as string;
}
