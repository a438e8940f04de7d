import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.js';
import { isUtc } from './dates.js';
import { onLocalDays } from './local-days.js';

export interface RetentionWindow {
  day: number;
  count: number;
  rate: number;
}

export interface Retention {
  start_date: string;
  cohort_size: number;
  windows: RetentionWindow[];
}

/** count / size rounded half-up to 4 decimals, in integers so no float error creeps in. */
export function roundedRate(count: number, size: number): number {
  if (size === 0) return 0;
  return Math.floor((2 * count * 10_000 + size) / (2 * size)) / 10_000;
}

/**
 * Cohort: users whose first event ever falls on startDate (in tz). Day n: cohort users
 * with an event on startDate + n. Every cohort user is active on day 0, so the day-0
 * count is the cohort size.
 *
 * UTC: read from retention_counts. Other zones: the cohort comes from user_first_seen (a
 * user's first instant does not depend on the zone) and activity from raw events.
 */
export async function retention(
  db: Kysely<Database>,
  startDate: string,
  windows: number,
  tz: string,
): Promise<Retention> {
  const start = sql`${startDate}::date`;
  const activity = isUtc(tz)
    ? sql`
        SELECT activity_day - ${start} AS n, users
        FROM retention_counts
        WHERE cohort_day = ${start} AND activity_day BETWEEN ${start} AND ${start} + ${windows}::int`
    : sql`
        WITH cohort AS (
          SELECT user_id FROM user_first_seen
          WHERE ${onLocalDays('first_seen_at', start, start, tz)}
        )
        SELECT (e.occurred_at AT TIME ZONE ${tz})::date - ${start} AS n, count(DISTINCT e.user_id) AS users
        FROM events e JOIN cohort c USING (user_id)
        WHERE ${onLocalDays('e.occurred_at', start, sql`${start} + ${windows}::int`, tz)}
        GROUP BY 1`;
  const { rows } = await sql<{ day: number; count: number }>`
    SELECT g.n AS day, coalesce(a.users, 0)::int AS count
    FROM generate_series(0, ${windows}::int) AS g(n)
    LEFT JOIN (${activity}) AS a ON a.n = g.n
    ORDER BY g.n`.execute(db);
  const cohortSize = rows[0]?.count ?? 0;
  return {
    start_date: startDate,
    cohort_size: cohortSize,
    windows: rows.map((r) => ({
      day: r.day,
      count: r.count,
      rate: roundedRate(r.count, cohortSize),
    })),
  };
}
