import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.js';
import { type DayRange, isUtc } from './dates.js';
import { onLocalDays } from './local-days.js';

export interface DauRow {
  date: string;
  unique_users: number;
}

/**
 * Distinct users per calendar day in `tz`, one row for every day of the inclusive range
 * (0 for days without events). UTC days come from daily_active_users; other zones count
 * raw events (the range is padded a day each side for the index scan, then each event is
 * placed on its local day).
 */
export async function dailyActiveUsers(
  db: Kysely<Database>,
  range: DayRange,
  tz: string,
): Promise<DauRow[]> {
  const counts = isUtc(tz)
    ? sql`SELECT day, users FROM daily_active_users WHERE day BETWEEN ${range.from}::date AND ${range.to}::date`
    : sql`
        SELECT (occurred_at AT TIME ZONE ${tz})::date AS day, count(DISTINCT user_id) AS users
        FROM events
        WHERE ${onLocalDays('occurred_at', sql`${range.from}::date`, sql`${range.to}::date`, tz)}
        GROUP BY 1`;
  const { rows } = await sql<DauRow>`
    SELECT d.day::date AS date, coalesce(c.users, 0)::int AS unique_users
    FROM generate_series(${range.from}::date, ${range.to}::date, interval '1 day') AS d(day)
    LEFT JOIN (${counts}) AS c ON c.day = d.day::date
    ORDER BY d.day`.execute(db);
  return rows;
}
