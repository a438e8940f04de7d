import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.js';
import type { ActiveUsersRow } from './active-users.js';
import { addDays, type DayRange } from './dates.js';
import { exploring } from './explore-settings.js';
import { inRange, type PropertyFilter } from './filters.js';
import type { Zone } from './zone.js';

const MAU_DAYS = 30;

/**
 * activeUsers (DAU, WAU, MAU per day of the range, zero-filled) counting only the
 * project's events that pass every filter, from raw events of the range and the 29 days
 * before it. Counted as activeUsers counts: each user's active days with their previous
 * active day (-infinity for the first one read: any earlier day is outside every window
 * asked), and the users active in [a, d] are the rows of those days whose previous day is
 * before a.
 */
export async function filteredActiveUsers(
  db: Kysely<Database>,
  projectId: number,
  range: DayRange,
  zone: Zone,
  filters: PropertyFilter[],
): Promise<ActiveUsersRow[]> {
  const windowStart = addDays(range.from, -(MAU_DAYS - 1));
  const { rows } = await exploring(db, (trx) =>
    sql<ActiveUsersRow>`
    WITH reach AS (
      SELECT day, coalesce(previous_day, '-infinity') AS previous_day, count(*) AS users
      FROM (
        SELECT day, lag(day) OVER (PARTITION BY user_id ORDER BY day) AS previous_day
        FROM (
          SELECT DISTINCT e.user_id COLLATE "C" AS user_id, (e.occurred_at AT TIME ZONE ${zone.name})::date AS day
          FROM events e
          WHERE ${inRange(projectId, { from: windowStart, to: range.to }, zone, filters)}
        ) AS a
      ) AS t
      GROUP BY 1, 2
    )
    SELECT d.day::date AS date,
           coalesce(sum(r.users) FILTER (WHERE r.day = d.day::date), 0)::int AS dau,
           coalesce(sum(r.users) FILTER (WHERE r.day > d.day::date - 7 AND r.previous_day <= d.day::date - 7), 0)::int AS wau,
           coalesce(sum(r.users) FILTER (WHERE r.previous_day <= d.day::date - ${MAU_DAYS}::int), 0)::int AS mau
    FROM generate_series(${range.from}::date, ${range.to}::date, interval '1 day') AS d(day)
    LEFT JOIN reach r ON r.day > d.day::date - ${MAU_DAYS}::int AND r.day <= d.day::date
    GROUP BY d.day
    ORDER BY d.day`.execute(trx),
  );
  return rows;
}
