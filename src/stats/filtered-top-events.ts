import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.js';
import { breakdownGroups, sameValue } from './breakdown-groups.js';
import type { DayRange } from './dates.js';
import { exploring } from './explore-settings.js';
import { type Breakdown, inRange, OTHER, type PropertyFilter, propertyText } from './filters.js';
import type { Zone } from './zone.js';

export interface FilteredTopEventRow {
  event_type: string;
  count: number;
  unique_users: number;
}

export interface BreakdownTopEventRow extends FilteredTopEventRow {
  breakdown: string | null;
}

/**
 * Top event types among the project's events of the range that pass every filter: count
 * descending, ties by event_type in byte order (as topEvents), at most `limit` types.
 * Read from raw events; events are grouped per (type, user) first, so the distinct users
 * of a type are a count of groups (hashable and parallel, no per-type sort).
 */
export async function filteredTopEvents(
  db: Kysely<Database>,
  projectId: number,
  range: DayRange,
  zone: Zone,
  filters: PropertyFilter[],
  limit: number,
): Promise<FilteredTopEventRow[]> {
  const { rows } = await exploring(db, (trx) =>
    sql<FilteredTopEventRow>`
    SELECT event_type, sum(n)::bigint AS count, count(*)::bigint AS unique_users
    FROM (
      SELECT e.event_type, e.user_id, count(*) AS n
      FROM events e
      WHERE ${inRange(projectId, range, zone, filters)}
      GROUP BY e.event_type, e.user_id
    ) AS per_user
    GROUP BY event_type
    ORDER BY count DESC, event_type COLLATE "C"
    LIMIT ${limit}::int`.execute(trx),
  );
  return rows;
}

/**
 * filteredTopEvents broken down by `breakdown.key`: the same `limit` types (ranked by their
 * total count), each with a row per group that has events of it (no zero rows), groups in
 * rank order (most users over the range first, "$other" last).
 */
export async function breakdownTopEvents(
  db: Kysely<Database>,
  projectId: number,
  range: DayRange,
  zone: Zone,
  filters: PropertyFilter[],
  limit: number,
  breakdown: Breakdown,
): Promise<BreakdownTopEventRow[]> {
  const { rows } = await exploring(db, (trx) =>
    sql<BreakdownTopEventRow>`
    WITH base AS MATERIALIZED (
      -- COLLATE "C": when the groups outgrow memory PostgreSQL sorts them, and byte
      -- comparisons (with abbreviated keys) sort text several times faster than the
      -- database's collation; the groups are the same (equality does not change).
      SELECT e.event_type COLLATE "C" AS event_type, ${propertyText(breakdown.key)} COLLATE "C" AS v,
             e.user_id COLLATE "C" AS user_id, count(*) AS n
      FROM events e
      WHERE ${inRange(projectId, range, zone, filters)}
      GROUP BY 1, 2, 3
    ), types AS MATERIALIZED (
      SELECT event_type, row_number() OVER (ORDER BY sum(n) DESC, event_type COLLATE "C") AS rank
      FROM base
      GROUP BY event_type
      ORDER BY rank
      LIMIT ${limit}::int
    ), groups AS MATERIALIZED (${breakdownGroups('base', breakdown)}
    ), per_value AS (
      -- A named group is one value: its users are its (type, value, user) rows.
      SELECT b.event_type, b.v, sum(b.n) AS count, count(*) AS users
      FROM base b JOIN types t USING (event_type)
      GROUP BY b.event_type, b.v
    ), other_users AS (
      -- "$other" merges values: a user is counted once across them.
      SELECT b.event_type, b.user_id, sum(b.n) AS n
      FROM base b
      JOIN types t USING (event_type)
      JOIN groups gr ON ${sameValue('b.v', 'gr.v')}
      WHERE gr.g > ${breakdown.limit}::int
      GROUP BY b.event_type, b.user_id
    ), per_group AS (
      SELECT pv.event_type, gr.g, pv.v AS breakdown, pv.count, pv.users
      FROM per_value pv JOIN groups gr ON ${sameValue('pv.v', 'gr.v')}
      WHERE gr.g <= ${breakdown.limit}::int
      UNION ALL
      SELECT event_type, ${breakdown.limit}::int + 1, ${OTHER}::text, sum(n), count(*)
      FROM other_users GROUP BY event_type
    )
    SELECT p.event_type, p.breakdown, p.count::bigint AS count, p.users::bigint AS unique_users
    FROM per_group p JOIN types t USING (event_type)
    ORDER BY t.rank, p.g`.execute(trx),
  );
  return rows;
}
