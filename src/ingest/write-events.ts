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
 * The first occurrence of each event_id, in order (first write wins). Validated ids are
 * lower-case, so equal UUIDs compare equal as strings.
 */
export function firstOccurrences(events: ValidEvent[]): ValidEvent[] {
  const seen = new Set<string>();
  return events.filter((e) => {
    if (seen.has(e.event_id)) return false;
    seen.add(e.event_id);
    return true;
  });
}

/**
 * Stores events whose ids are all different, and updates the summary tables, atomically,
 * in one round trip (the set-based work is the ingest_events() function, migrations/).
 * Returns the ids that were already stored: by an earlier batch, or by a concurrent one
 * that committed first.
 */
export async function storeUniqueEvents(
  db: Kysely<Database>,
  events: ValidEvent[],
): Promise<Set<string>> {
  if (events.length === 0) return new Set();
  const { rows } = await sql<{ existing: string[] }>`
    SELECT ingest_events(
      ${events.map((e) => e.event_id)}::uuid[],
      ${events.map((e) => e.occurred_at)}::timestamptz[],
      ${events.map((e) => e.user_id)}::text[],
      ${events.map((e) => e.event_type)}::text[],
      ${events.map((e) => e.properties)}::jsonb[]
    ) AS existing`.execute(db);
  return new Set(rows[0]?.existing ?? []);
}

/** Stores one batch: duplicates (already stored, or repeated in it) are counted, never an error. */
export async function writeEvents(
  db: Kysely<Database>,
  events: ValidEvent[],
): Promise<WriteResult> {
  const unique = firstOccurrences(events);
  const existing = await storeUniqueEvents(db, unique);
  const accepted = unique.length - existing.size;
  return { accepted, skipped: events.length - accepted };
}
