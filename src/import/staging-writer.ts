import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { ensurePartitions, weeksOf } from '../ingest/partitions.js';
import { SOURCE_CODES } from '../ingest/sources.js';
import type { ValidEvent } from '../ingest/validate-event.js';
import { firstOccurrences, toStore, type WriteResult } from '../ingest/write-events.js';

const COPY_SPECIAL = /[\\\t\n\r]/;

/** COPY text format: backslash, tab and line breaks are escaped. */
function copyText(value: string): string {
  return COPY_SPECIAL.test(value)
    ? value
        .replaceAll('\\', '\\\\')
        .replaceAll('\t', '\\t')
        .replaceAll('\n', '\\n')
        .replaceAll('\r', '\\r')
    : value;
}

/** The COPY text of the first occurrence of each event_id. */
function copyRows(
  projectId: number,
  events: ValidEvent[],
): { text: string; unique: number; total: number } {
  const unique = firstOccurrences(toStore(projectId, 'events', events));
  let text = '';
  for (const e of unique) {
    // event_id and occurred_at are canonical (hex digits, ISO digits): nothing to escape.
    text += `${e.event_id}\t${e.occurred_at}\t${copyText(e.user_id)}\t${copyText(e.event_type)}\t${copyText(e.properties)}\n`;
  }
  return { text, unique: unique.length, total: events.length };
}

/**
 * Writes import batches into one project on a connection of its own: COPY into a
 * session-local staging table, then the same ingest_events() as POST /events (dedup insert
 * + exact summaries; imported ids share POST /events' family), in one transaction per
 * batch. A crash loses at most the batch in flight; re-running imports what is missing.
 */
export class StagingWriter {
  /** Set when the connection failed (dropped, server gone): the writer is unusable. */
  private failure: Error | undefined;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly client: pg.PoolClient,
    private readonly projectId: number,
  ) {
    // A checked-out client whose connection drops emits 'error'; unhandled, that event
    // would kill the process. Keep it: the batch in flight (or the next) reports it.
    client.on('error', (error) => {
      this.failure ??= error;
    });
  }

  static async open(pool: pg.Pool, projectId: number): Promise<StagingWriter> {
    const client = await pool.connect();
    const writer = new StagingWriter(pool, client, projectId);
    try {
      // A temporary table is never WAL-logged, and ON COMMIT DELETE ROWS empties it
      // without a DELETE after each batch (and after a rollback), so a pooled connection
      // that had it from an earlier import can reuse it.
      await client.query(`
        CREATE TEMP TABLE IF NOT EXISTS import_staging (
          event_id    uuid,
          occurred_at timestamptz,
          user_id     text,
          event_type  text,
          properties  jsonb
        ) ON COMMIT DELETE ROWS`);
    } catch (error) {
      writer.close();
      throw error;
    }
    return writer;
  }

  async write(events: ValidEvent[]): Promise<WriteResult> {
    if (this.failure) throw this.failure;
    if (events.length === 0) return { accepted: 0, skipped: 0 };
    // Only the COPY text and two counts outlive this line: the batch's event objects can
    // be collected while the database works (a smaller heap with batches in flight).
    const { text, unique, total } = copyRows(this.projectId, events);
    const weeks = weeksOf(events.map((e) => e.occurred_at));
    try {
      // Before the batch's transaction: a missing week's partition is made in its own.
      await ensurePartitions(
        this.pool,
        (sqlText, values) => this.client.query(sqlText, values),
        weeks,
      );
      await this.client.query('BEGIN');
      await new Promise<void>((resolve, reject) => {
        const stream = this.client.query(copyFrom('COPY import_staging FROM STDIN'));
        stream.on('finish', resolve);
        stream.on('error', reject);
        stream.end(text);
      });
      // ingest_events() takes each identity once, in any order; one scan feeds all the
      // aggregates row by row, so the arrays stay aligned without sorting.
      const { rows } = await this.client.query<{ existing: number }>(
        `SELECT cardinality(analytics.ingest_events(
           array_fill($1::int, ARRAY[count(*)::int]), array_fill($2::smallint, ARRAY[count(*)::int]),
           array_agg(event_id), array_agg(occurred_at), array_agg(user_id),
           array_agg(event_type), array_agg(properties)
         )) AS existing
         FROM import_staging`,
        [this.projectId, SOURCE_CODES.events],
      );
      await this.client.query('COMMIT');
      const accepted = unique - (rows[0]?.existing ?? 0);
      return { accepted, skipped: total - accepted };
    } catch (error) {
      // The connection's own error is the clearer one ("terminated unexpectedly" rather
      // than "not queryable").
      if (this.failure) throw this.failure;
      await this.client.query('ROLLBACK').catch(() => {});
      throw error;
    }
  }

  close(): void {
    // A failed connection is destroyed rather than returned to the pool.
    this.client.release(this.failure ?? false);
  }
}
