import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.js';
import type { DayRange } from './dates.js';
import { onLocalDays } from './local-days.js';
import { reportingZone, type Zone } from './zone.js';

export interface TopEventRow {
  event_type: string;
  count: number;
  unique_users: number;
}

/**
 * Event types by number of events in the inclusive range, count descending, ties by
 * event_type in byte order (COLLATE "C", the same whatever the server's locale).
 *
 * A reporting zone: counts from type_day_counts; distinct users from type_reach, where
 * each user is counted once, on their first active day in the range (docs/write-path.md).
 * Another zone: raw events.
 */
export async function topEvents(
  db: Kysely<Database>,
  projectId: number,
  range: DayRange,
  zone: Zone,
  limit: number,
): Promise<TopEventRow[]> {
  const zoneId = zone.reportingId;
  const query =
    zoneId !== undefined
      ? sql<TopEventRow>`
          WITH counts AS (
            SELECT type_key, sum(events) AS count
            FROM type_day_counts
            WHERE project_id = ${projectId} AND zone_id = ${reportingZone(projectId, zoneId)}
              AND day BETWEEN ${range.from}::date AND ${range.to}::date
            GROUP BY type_key
          ), top AS (
            SELECT t.event_type, c.type_key, c.count
            FROM counts c JOIN event_types t ON t.project_id = ${projectId} AND t.type_key = c.type_key
            WHERE c.count > 0
            ORDER BY c.count DESC, t.event_type COLLATE "C" LIMIT ${limit}
          )
          SELECT t.event_type, t.count::bigint AS count, (
            SELECT coalesce(sum(r.users), 0) FROM type_reach r
            WHERE r.project_id = ${projectId} AND r.zone_id = ${zoneId}::smallint
              AND r.type_key = t.type_key
              AND r.day BETWEEN ${range.from}::date AND ${range.to}::date
              AND r.previous_day < ${range.from}::date
          )::bigint AS unique_users
          FROM top t
          ORDER BY t.count DESC, t.event_type COLLATE "C"`
      : sql<TopEventRow>`
          SELECT event_type, count(*) AS count, count(DISTINCT user_id) AS unique_users
          FROM events
          WHERE project_id = ${projectId}
            AND ${onLocalDays('occurred_at', sql`${range.from}::date`, sql`${range.to}::date`, zone.name)}
          GROUP BY event_type
          ORDER BY count DESC, event_type COLLATE "C"
          LIMIT ${limit}`;
  const { rows } = await query.execute(db);
  return rows;
}

/** Events in the inclusive range (all types). */
export async function eventCount(
  db: Kysely<Database>,
  projectId: number,
  range: DayRange,
  zone: Zone,
): Promise<number> {
  const zoneId = zone.reportingId;
  const query =
    zoneId !== undefined
      ? sql<{ events: number }>`
          SELECT coalesce(sum(events), 0)::bigint AS events FROM type_day_counts
          WHERE project_id = ${projectId} AND zone_id = ${reportingZone(projectId, zoneId)}
            AND day BETWEEN ${range.from}::date AND ${range.to}::date`
      : sql<{ events: number }>`
          SELECT count(*) AS events FROM events
          WHERE project_id = ${projectId} AND ${onLocalDays('occurred_at', sql`${range.from}::date`, sql`${range.to}::date`, zone.name)}`;
  const { rows } = await query.execute(db);
  return rows[0]?.events ?? 0;
}
