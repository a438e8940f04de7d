import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Database } from '../db/schema.js';
import { addDays } from './dates.js';
import { onLocalDays } from './local-days.js';
import { reportingZone, type Zone } from './zone.js';

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

export interface ReachWindow {
  /** First and last cohort day (local days, inclusive). */
  firstCohort: string;
  lastCohort: string;
  /** Last activity day needed. */
  lastDay: string;
}

/**
 * Rows (cohort_day, day, previous_day, users) of retention_reach (migrations/0005) for the
 * cohorts and days of `window`: read from the summary table in a reporting zone, or
 * computed from raw events with the same definition in another zone (cohort members come
 * from users.first_seen_at; a member's days before the first cohort day do not exist, so
 * only their events in the window are read). Both retention endpoints count from these
 * rows, so there is one way of counting distinct users per cohort.
 */
export function retentionReachRows(
  projectId: number,
  zone: Zone,
  window: ReachWindow,
): RawBuilder<unknown> {
  const first = sql`${window.firstCohort}::date`;
  const last = sql`${window.lastCohort}::date`;
  const lastDay = sql`${window.lastDay}::date`;
  const zoneId = zone.reportingId;
  if (zoneId !== undefined) {
    return sql`
      SELECT cohort_day, day, previous_day, users FROM retention_reach
      WHERE project_id = ${projectId} AND zone_id = ${reportingZone(projectId, zoneId)}
        AND cohort_day BETWEEN ${first} AND ${last}
        AND day BETWEEN ${first} AND ${lastDay}`;
  }
  return sql`
    SELECT cohort_day, day, greatest(coalesce(previous_day, '-infinity'), day - 7) AS previous_day,
           count(*) AS users
    FROM (
      SELECT a.cohort_day, a.day, lag(a.day) OVER (PARTITION BY a.user_id ORDER BY a.day) AS previous_day
      FROM (
        SELECT DISTINCT c.user_id, c.cohort_day, (e.occurred_at AT TIME ZONE ${zone.name})::date AS day
        FROM (
          SELECT user_id, (first_seen_at AT TIME ZONE ${zone.name})::date AS cohort_day FROM users
          WHERE project_id = ${projectId} AND ${onLocalDays('first_seen_at', first, last, zone.name)}
        ) AS c
        JOIN events e ON e.project_id = ${projectId} AND e.user_id = c.user_id
        WHERE ${onLocalDays('e.occurred_at', first, lastDay, zone.name)}
      ) AS a
    ) AS t
    GROUP BY 1, 2, 3`;
}

/**
 * Cohort: users whose first event ever falls on startDate (in the zone). Day n: cohort
 * users with an event on startDate + n. Every cohort user is active on day 0, so the day-0
 * count is the cohort size.
 */
export async function retention(
  db: Kysely<Database>,
  projectId: number,
  startDate: string,
  windows: number,
  zone: Zone,
): Promise<Retention> {
  const start = sql`${startDate}::date`;
  const rows = retentionReachRows(projectId, zone, {
    firstCohort: startDate,
    lastCohort: startDate,
    lastDay: addDays(startDate, windows),
  });
  const result = await sql<{ day: number; count: number }>`
    SELECT g.n AS day, coalesce(sum(r.users), 0)::int AS count
    FROM generate_series(0, ${windows}::int) AS g(n)
    LEFT JOIN (${rows}) AS r ON r.cohort_day = ${start} AND r.day = ${start} + g.n
    GROUP BY g.n
    ORDER BY g.n`.execute(db);
  const cohortSize = result.rows[0]?.count ?? 0;
  return {
    start_date: startDate,
    cohort_size: cohortSize,
    windows: result.rows.map((r) => ({
      day: r.day,
      count: r.count,
      rate: roundedRate(r.count, cohortSize),
    })),
  };
}
