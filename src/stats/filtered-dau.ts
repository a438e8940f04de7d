import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.js';
import { breakdownGroups, sameValue } from './breakdown-groups.js';
import type { DayRange } from './dates.js';
import { exploring } from './explore-settings.js';
import { type Breakdown, inRange, OTHER, type PropertyFilter, propertyText } from './filters.js';
import type { Zone } from './zone.js';

export interface FilteredDauRow {
  date: string;
  unique_users: number;
}

export interface BreakdownDauRow extends FilteredDauRow {
  /** The property's text, null for events without one, or "$other". */
  breakdown: string | null;
}

/**
 * Distinct users per local day of the range (zero-filled) among the project's events that
 * pass every filter, read from raw events of the range only (summaries know no
 * properties).
 *
 * Distinct (day, user) pairs are found first and then counted: a hashable two-step
 * aggregation that PostgreSQL can run in parallel, where count(DISTINCT user_id) per day
 * sorts every matching event on one core. COLLATE "C": should the pairs outgrow memory and
 * be sorted, byte comparisons sort text several times faster (the pairs are the same).
 */
export async function filteredDau(
  db: Kysely<Database>,
  projectId: number,
  range: DayRange,
  zone: Zone,
  filters: PropertyFilter[],
): Promise<FilteredDauRow[]> {
  const { rows } = await exploring(db, (trx) =>
    sql<FilteredDauRow>`
    SELECT d.day::date AS date, coalesce(c.users, 0)::int AS unique_users
    FROM generate_series(${range.from}::date, ${range.to}::date, interval '1 day') AS d(day)
    LEFT JOIN (
      SELECT day, count(*) AS users
      FROM (
        SELECT DISTINCT (e.occurred_at AT TIME ZONE ${zone.name})::date AS day, e.user_id COLLATE "C"
        FROM events e
        WHERE ${inRange(projectId, range, zone, filters)}
      ) AS pairs
      GROUP BY day
    ) AS c ON c.day = d.day::date
    ORDER BY d.day`.execute(trx),
  );
  return rows;
}

/**
 * filteredDau broken down by `breakdown.key`: a row per day and group, zero-filled, groups
 * in rank order (the values with the most users over the whole range first, then
 * "$other" when there are more values than the limit).
 */
export async function breakdownDau(
  db: Kysely<Database>,
  projectId: number,
  range: DayRange,
  zone: Zone,
  filters: PropertyFilter[],
  breakdown: Breakdown,
): Promise<BreakdownDauRow[]> {
  const { rows } = await exploring(db, (trx) =>
    sql<BreakdownDauRow>`
    WITH base AS MATERIALIZED (
      SELECT DISTINCT (e.occurred_at AT TIME ZONE ${zone.name})::date AS day,
             ${propertyText(breakdown.key)} COLLATE "C" AS v, e.user_id COLLATE "C" AS user_id
      FROM events e
      WHERE ${inRange(projectId, range, zone, filters)}
    ), groups AS MATERIALIZED (${breakdownGroups('base', breakdown)}
    ), labels AS (
      SELECT DISTINCT g, CASE WHEN g <= ${breakdown.limit}::int THEN v ELSE ${OTHER}::text END AS breakdown
      FROM groups
    ), counts AS (
      SELECT day, g, count(*) AS users
      FROM (SELECT DISTINCT b.day, gr.g, b.user_id FROM base b JOIN groups gr ON ${sameValue('b.v', 'gr.v')}) AS x
      GROUP BY day, g
    )
    SELECT d.day::date AS date, l.breakdown, coalesce(c.users, 0)::int AS unique_users
    FROM generate_series(${range.from}::date, ${range.to}::date, interval '1 day') AS d(day)
    CROSS JOIN labels l
    LEFT JOIN counts c ON c.day = d.day::date AND c.g = l.g
    ORDER BY d.day, l.g`.execute(trx),
  );
  return rows;
}
