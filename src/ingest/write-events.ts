import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.js';
import type { ValidEvent } from './validate-event.js';

export interface WriteResult {
  /** Events that were new and are now stored. */
  accepted: number;
  /** Duplicates: stored before, or repeated in this batch. */
  skipped: number;
}

/**
 * Stores a batch of validated events and updates the summary tables, atomically, in one
 * round trip (the ingest_events() function of migration 0002 does the set-based work).
 * The first occurrence of an event_id wins; duplicates are counted, never an error.
 */
export async function writeEvents(
  db: Kysely<Database>,
  events: ValidEvent[],
): Promise<WriteResult> {
  if (events.length === 0) return { accepted: 0, skipped: 0 };
  const { rows } = await sql<{ accepted: number }>`
    SELECT ingest_events(
      ${events.map((e) => e.event_id)}::uuid[],
      ${events.map((e) => e.occurred_at)}::timestamptz[],
      ${events.map((e) => e.user_id)}::text[],
      ${events.map((e) => e.event_type)}::text[],
      ${events.map((e) => e.properties)}::jsonb[]
    ) AS accepted`.execute(db);
  const accepted = rows[0]?.accepted ?? 0;
  return { accepted, skipped: events.length - accepted };
}
