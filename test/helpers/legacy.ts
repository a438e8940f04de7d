import { type Kysely, sql } from 'kysely';
import type pg from 'pg';
import type { Database } from '../../src/db/schema.js';
import type { ValidEvent } from '../../src/ingest/validate-event.js';

/**
 * The one-app schema of migrations 0005-0006 (before projects, 0007), for the tests that
 * upgrade from it or go down to it: its write path (public.ingest_events, five arrays)
 * and its summary tables read and recomputed as they were then.
 */

/** Writes a batch through the write path of 0003-0006 (each event_id once). */
export async function legacyWrite(db: Kysely<Database>, events: ValidEvent[]): Promise<void> {
  await sql`
    SELECT public.ingest_events(
      ${events.map((e) => e.event_id)}::uuid[],
      ${events.map((e) => e.occurred_at)}::timestamptz[],
      ${events.map((e) => e.user_id)}::text[],
      ${events.map((e) => e.event_type)}::text[],
      ${events.map((e) => e.properties)}::jsonb[]
    )`.execute(db);
}

/**
 * Each summary table as rows of text, its integer keys replaced by the names they stand
 * for (surrogate keys depend on arrival order), zero-count rows left out (a count that went
 * to 0 when a late event moved a user is the same as no row), sorted.
 */
const STORED: Record<string, string> = {
  users: `SELECT user_id, first_seen_at::text, last_seen_at::text FROM users`,
  event_types: `SELECT event_type FROM event_types`,
  user_days: `SELECT z.name, u.user_id, d.day::text
    FROM user_days d JOIN users u USING (user_key) JOIN report_zones z USING (zone_id)`,
  active_user_reach: `SELECT z.name, r.day::text, r.previous_day::text, r.users
    FROM active_user_reach r JOIN report_zones z USING (zone_id) WHERE r.users <> 0`,
  retention_reach: `SELECT z.name, r.cohort_day::text, r.day::text, r.previous_day::text, r.users
    FROM retention_reach r JOIN report_zones z USING (zone_id) WHERE r.users <> 0`,
  type_user_days: `SELECT z.name, t.event_type, u.user_id, d.day::text
    FROM type_user_days d JOIN users u USING (user_key) JOIN event_types t USING (type_key)
    JOIN report_zones z USING (zone_id)`,
  type_reach: `SELECT z.name, t.event_type, r.day::text, r.previous_day::text, r.users
    FROM type_reach r JOIN event_types t USING (type_key) JOIN report_zones z USING (zone_id)
    WHERE r.users <> 0`,
  type_day_counts: `SELECT z.name, c.day::text, t.event_type, c.events::int
    FROM type_day_counts c JOIN event_types t USING (type_key) JOIN report_zones z USING (zone_id)
    WHERE c.events <> 0`,
};

/**
 * The same tables recomputed from the raw events table, straight from their definitions
 * (independently of the migration's backfill), for every reporting zone.
 */
const local = `(e.occurred_at AT TIME ZONE z.name)::date`;
const days = `SELECT DISTINCT z.name, e.user_id, ${local} AS day FROM events e CROSS JOIN report_zones z`;
const typeDays = `SELECT DISTINCT z.name, e.event_type, e.user_id, ${local} AS day FROM events e CROSS JOIN report_zones z`;
const firsts = `SELECT user_id, min(occurred_at) AS first_at FROM events GROUP BY user_id`;
const EXPECTED: Record<string, string> = {
  users: `SELECT user_id, min(occurred_at)::text, max(occurred_at)::text FROM events GROUP BY user_id`,
  event_types: `SELECT DISTINCT event_type FROM events`,
  user_days: `SELECT name, user_id, day::text FROM (${days}) d`,
  active_user_reach: `SELECT name, day::text, greatest(prev, day - 30)::text AS p, count(*)::int
    FROM (SELECT name, day, lag(day) OVER (PARTITION BY name, user_id ORDER BY day) AS prev FROM (${days}) d) r
    GROUP BY name, day, p`,
  retention_reach: `SELECT name, cohort::text, day::text, greatest(prev, day - 7)::text AS p, count(*)::int
    FROM (SELECT d.name, (f.first_at AT TIME ZONE d.name)::date AS cohort, d.day,
                 lag(d.day) OVER (PARTITION BY d.name, d.user_id ORDER BY d.day) AS prev
          FROM (${days}) d JOIN (${firsts}) f USING (user_id)) r
    GROUP BY name, cohort, day, p`,
  type_user_days: `SELECT name, event_type, user_id, day::text FROM (${typeDays}) d`,
  type_reach: `SELECT name, event_type, day::text, coalesce(prev, '-infinity')::text AS p, count(*)::int
    FROM (SELECT name, event_type, day, lag(day) OVER (PARTITION BY name, event_type, user_id ORDER BY day) AS prev
          FROM (${typeDays}) d) r
    GROUP BY name, event_type, day, p`,
  type_day_counts: `SELECT z.name, ${local}::text, e.event_type, count(*)::int
    FROM events e CROSS JOIN report_zones z GROUP BY 1, 2, 3`,
};

async function tablesOf(pool: pg.Pool, queries: Record<string, string>) {
  const out: Record<string, string[]> = {};
  for (const [table, query] of Object.entries(queries)) {
    const { rows } = await pool.query({ text: query, rowMode: 'array' });
    out[table] = rows.map((r: unknown[]) => JSON.stringify(r)).sort();
  }
  return out;
}

/** Every summary table of the 0005-0006 schema (see STORED). */
export function legacySnapshot(pool: pg.Pool): Promise<Record<string, string[]>> {
  return tablesOf(pool, STORED);
}

/** The 0005-0006 summary tables as they should be, recomputed from the raw events. */
export function legacyExpected(pool: pg.Pool): Promise<Record<string, string[]>> {
  return tablesOf(pool, EXPECTED);
}
