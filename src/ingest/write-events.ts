import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.js';
import {
  ensurePartitions,
  forgetPartitions,
  isMissingPartition,
  queryVia,
  weeksOf,
} from './partitions.js';
import { type IngestSource, SOURCE_CODES } from './sources.js';
import type { ValidEvent } from './validate-event.js';

export interface WriteResult {
  /** Events that were new and are now stored. */
  accepted: number;
  /** Duplicates: stored before, or repeated in this batch. */
  skipped: number;
}

/** A validated event with the project it belongs to and the family its id came from. */
export interface EventToStore extends ValidEvent {
  project_id: number;
  source: IngestSource;
}

/** The dedup key of an event: (project, family, event_id), as one string. */
export function identity(event: EventToStore): string {
  return `${event.project_id}/${event.source}/${event.event_id}`;
}

/** The events of one request: one project, one family. */
export function toStore(
  projectId: number,
  source: IngestSource,
  events: ValidEvent[],
): EventToStore[] {
  return events.map((e) => ({ ...e, project_id: projectId, source }));
}

/**
 * The first occurrence of each identity, in order (first write wins). Validated ids are
 * lower-case, so equal UUIDs compare equal as strings.
 */
export function firstOccurrences(events: EventToStore[]): EventToStore[] {
  const seen = new Set<string>();
  return events.filter((e) => {
    const key = identity(e);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Stores events whose identities are all different, and updates the summary tables,
 * atomically, in one round trip (the set-based work is analytics.ingest_events(),
 * sql/functions/). Returns the identities that were already stored: by an earlier batch,
 * or by a concurrent one that committed first.
 */
export async function storeUniqueEvents(
  db: Kysely<Database>,
  events: EventToStore[],
): Promise<Set<string>> {
  if (events.length === 0) return new Set();
  const weeks = weeksOf(events.map((e) => e.occurred_at));
  await ensurePartitions(db, queryVia(db), weeks);
  try {
    return await callIngest(db, events);
  } catch (error) {
    if (!isMissingPartition(error)) throw error;
    forgetPartitions();
    await ensurePartitions(db, queryVia(db), weeks);
    return callIngest(db, events);
  }
}

async function callIngest(db: Kysely<Database>, events: EventToStore[]): Promise<Set<string>> {
  const { rows } = await sql<{ existing: number[] }>`
    SELECT analytics.ingest_events(
      ${events.map((e) => e.project_id)}::int[],
      ${events.map((e) => SOURCE_CODES[e.source])}::smallint[],
      ${events.map((e) => e.event_id)}::uuid[],
      ${events.map((e) => e.occurred_at)}::timestamptz[],
      ${events.map((e) => e.user_id)}::text[],
      ${events.map((e) => e.event_type)}::text[],
      ${events.map((e) => e.properties)}::jsonb[]
    ) AS existing`.execute(db);
  const existing = new Set<string>();
  for (const position of rows[0]?.existing ?? []) {
    existing.add(identity(events[position - 1] as EventToStore));
  }
  return existing;
}

/** Stores one batch: duplicates (already stored, or repeated in it) are counted, never an error. */
export async function writeEvents(
  db: Kysely<Database>,
  events: EventToStore[],
): Promise<WriteResult> {
  const unique = firstOccurrences(events);
  const existing = await storeUniqueEvents(db, unique);
  const accepted = unique.length - existing.size;
  return { accepted, skipped: events.length - accepted };
}
