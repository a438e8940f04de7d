import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.js';
import type { DayRange } from './dates.js';
import { onLocalDays } from './local-days.js';
import { reportingZone, type Zone } from './zone.js';

export interface DauRow {
  date: string;
  unique_users: number;
}

/**
 * Distinct users per calendar day in `zone`, one row for every day of the inclusive range
 * (0 for days without events). A reporting zone reads active_user_reach (a day's users are
 * its rows whatever their previous day); another zone counts raw events (the range is
 * padded a day each side for the index scan, then each event is placed on its local day).
 */
export async function dailyActiveUsers(
  db: Kysely<Database>,
  projectId: number,
  range: DayRange,
  zone: Zone,
): Promise<DauRow[]> {
  const zoneId = zone.reportingId;
  const counts =
    zoneId !== undefined
      ? sql`
          SELECT day, sum(users) AS users FROM active_user_reach
          WHERE project_id = ${projectId} AND zone_id = ${reportingZone(projectId, zoneId)}
            AND day BETWEEN ${range.from}::date AND ${range.to}::date
          GROUP BY day`
      : sql`
          SELECT (occurred_at AT TIME ZONE ${zone.name})::date AS day, count(DISTINCT user_id) AS users
          FROM events
          WHERE project_id = ${projectId}
            AND ${onLocalDays('occurred_at', sql`${range.from}::date`, sql`${range.to}::date`, zone.name)}
          GROUP BY 1`;
  const { rows } = await sql<DauRow>`
    SELECT d.day::date AS date, coalesce(c.users, 0)::int AS unique_users
    FROM generate_series(${range.from}::date, ${range.to}::date, interval '1 day') AS d(day)
    LEFT JOIN (${counts}) AS c ON c.day = d.day::date
    ORDER BY d.day`.execute(db);
  return rows;
}
