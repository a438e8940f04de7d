import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.js';
import { addDays, type DayRange } from './dates.js';
import { onLocalDays } from './local-days.js';
import { reportingZone, type Zone } from './zone.js';

export interface ActiveUsersRow {
  date: string;
  dau: number;
  wau: number;
  mau: number;
}

/** The longest window counted (MAU): active_user_reach keeps previous days this far back. */
const MAU_DAYS = 30;

/**
 * For every day of the range (zero-filled): distinct users active that day, in the 7 days
 * and in the 30 days ending that day, in the zone's calendar days.
 *
 * Counted from active_user_reach rows (day, previous_day, users): the users active in
 * [a, d] are the rows of those days whose previous active day is before a, each user
 * once, on their first day in the window. A reporting zone reads the summary table; another
 * zone computes the same rows from raw events (the same definition as the migration's
 * backfill), so both count the same way.
 */
export async function activeUsers(
  db: Kysely<Database>,
  projectId: number,
  range: DayRange,
  zone: Zone,
): Promise<ActiveUsersRow[]> {
  const windowStart = addDays(range.from, -(MAU_DAYS - 1));
  const zoneId = zone.reportingId;
  const reach =
    zoneId !== undefined
      ? sql`
          SELECT day, previous_day, users FROM active_user_reach
          WHERE project_id = ${projectId} AND zone_id = ${reportingZone(projectId, zoneId)}
            AND day BETWEEN ${windowStart}::date AND ${range.to}::date`
      : sql`
          SELECT day, greatest(coalesce(previous_day, '-infinity'), day - ${MAU_DAYS}::int) AS previous_day,
                 count(*) AS users
          FROM (
            SELECT day, lag(day) OVER (PARTITION BY user_id ORDER BY day) AS previous_day
            FROM (
              SELECT DISTINCT user_id, (occurred_at AT TIME ZONE ${zone.name})::date AS day
              FROM events
              WHERE project_id = ${projectId}
                AND ${onLocalDays('occurred_at', sql`${windowStart}::date - ${MAU_DAYS}::int`, sql`${range.to}::date`, zone.name)}
            ) AS a
          ) AS t
          WHERE day >= ${windowStart}::date
          GROUP BY 1, 2`;
  const { rows } = await sql<ActiveUsersRow>`
    SELECT d.day::date AS date,
           coalesce(sum(r.users) FILTER (WHERE r.day = d.day::date), 0)::int AS dau,
           coalesce(sum(r.users) FILTER (WHERE r.day > d.day::date - 7 AND r.previous_day <= d.day::date - 7), 0)::int AS wau,
           coalesce(sum(r.users) FILTER (WHERE r.previous_day <= d.day::date - ${MAU_DAYS}::int), 0)::int AS mau
    FROM generate_series(${range.from}::date, ${range.to}::date, interval '1 day') AS d(day)
    LEFT JOIN (${reach}) AS r ON r.day > d.day::date - ${MAU_DAYS}::int AND r.day <= d.day::date
    GROUP BY d.day
    ORDER BY d.day`.execute(db);
  return rows;
}
