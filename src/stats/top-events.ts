import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.js';
import { type DayRange, isUtc } from './dates.js';
import { onLocalDays } from './local-days.js';

export interface TopEventRow {
  event_type: string;
  count: number;
  unique_users: number;
}

/**
 * Event types by number of events in the inclusive range, count descending, ties by
 * event_type in byte order (COLLATE "C", the same whatever the server's locale).
 *
 * UTC: counts from daily_event_counts; distinct users from event_type_reach, where each
 * user is counted once, on their first active day in the range (see migration 0002).
 * Other zones: raw events.
 */
export async function topEvents(
  db: Kysely<Database>,
  range: DayRange,
  tz: string,
  limit: number,
): Promise<TopEventRow[]> {
  const query = isUtc(tz)
    ? sql<TopEventRow>`
        WITH counts AS (
          SELECT event_type, sum(events) AS count
          FROM daily_event_counts
          WHERE day BETWEEN ${range.from}::date AND ${range.to}::date
          GROUP BY event_type
        ), top AS (
          SELECT * FROM counts ORDER BY count DESC, event_type COLLATE "C" LIMIT ${limit}
        )
        SELECT t.event_type, t.count::bigint AS count, (
          SELECT coalesce(sum(r.users), 0) FROM event_type_reach r
          WHERE r.event_type = t.event_type
            AND r.day BETWEEN ${range.from}::date AND ${range.to}::date
            AND r.previous_day < ${range.from}::date
        )::bigint AS unique_users
        FROM top t
        ORDER BY t.count DESC, t.event_type COLLATE "C"`
    : sql<TopEventRow>`
        SELECT event_type, count(*) AS count, count(DISTINCT user_id) AS unique_users
        FROM events
        WHERE ${onLocalDays('occurred_at', sql`${range.from}::date`, sql`${range.to}::date`, tz)}
        GROUP BY event_type
        ORDER BY count DESC, event_type COLLATE "C"
        LIMIT ${limit}`;
  const { rows } = await query.execute(db);
  return rows;
}
