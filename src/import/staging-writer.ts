import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { ValidEvent } from '../ingest/validate-event.js';
import { firstOccurrences, type WriteResult } from '../ingest/write-events.js';

/** COPY text format: backslash, tab and line breaks are escaped. */
function copyText(value: string): string {
  return /[\\\t\n\r]/.test(value)
    ? value
        .replaceAll('\\', '\\\\')
        .replaceAll('\t', '\\t')
        .replaceAll('\n', '\\n')
        .replaceAll('\r', '\\r')
    : value;
}

/**
 * Writes import batches: COPY into a session-local staging table, then the same
 * ingest_events() as POST /events (dedup insert + exact summaries), in one transaction
 * per batch. A crash loses at most the batch in flight; re-running imports what is missing.
 */
export class StagingWriter {
  private constructor(private readonly client: pg.PoolClient) {}

  static async open(pool: pg.Pool): Promise<StagingWriter> {
    const client = await pool.connect();
    await client.query(`
      CREATE TEMP TABLE import_staging (
        ord         integer,
        event_id    uuid,
        occurred_at timestamptz,
        user_id     text,
        event_type  text,
        properties  jsonb
      ) ON COMMIT DELETE ROWS`);
    return new StagingWriter(client);
  }

  async write(events: ValidEvent[]): Promise<WriteResult> {
    if (events.length === 0) return { accepted: 0, skipped: 0 };
    const unique = firstOccurrences(events);
    const lines = unique.map(
      (e, i) =>
        `${i}\t${e.event_id}\t${e.occurred_at}\t${copyText(e.user_id)}\t${copyText(e.event_type)}\t${copyText(e.properties)}\n`,
    );
    await this.client.query('BEGIN');
    try {
      await new Promise<void>((resolve, reject) => {
        const stream = this.client.query(
          copyFrom(
            'COPY import_staging (ord, event_id, occurred_at, user_id, event_type, properties) FROM STDIN',
          ),
        );
        stream.on('finish', resolve);
        stream.on('error', reject);
        stream.end(lines.join(''));
      });
      const { rows } = await this.client.query<{ existing: number }>(`
        SELECT cardinality(ingest_events(
          array_agg(event_id ORDER BY ord), array_agg(occurred_at ORDER BY ord),
          array_agg(user_id ORDER BY ord), array_agg(event_type ORDER BY ord),
          array_agg(properties ORDER BY ord)
        )) AS existing
        FROM import_staging`);
      await this.client.query('COMMIT');
      const accepted = unique.length - (rows[0]?.existing ?? 0);
      return { accepted, skipped: events.length - accepted };
    } catch (error) {
      await this.client.query('ROLLBACK').catch(() => {});
      throw error;
    }
  }

  close(): void {
    this.client.release();
  }
}
