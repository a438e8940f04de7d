import { type RawBuilder, sql } from 'kysely';
import type { Breakdown } from './filters.js';

/**
 * SQL (the body of a CTE): the breakdown group of each value found in `pairs`, a relation
 * of (v, user_id) rows. The `limit` values with the most distinct users get groups 1..limit
 * (ties: nulls after values, then values in byte order, so the answer never depends on
 * the plan); every other value shares group limit + 1, shown as "$other", whose users are
 * counted once across the values it merges because the caller counts distinct users per
 * group, not per value.
 */
export function breakdownGroups(pairs: string, breakdown: Breakdown): RawBuilder<unknown> {
  return sql`
    SELECT v, least(rank, ${breakdown.limit}::int + 1) AS g
    FROM (
      SELECT v, row_number() OVER (ORDER BY count(*) DESC, v IS NULL, v COLLATE "C") AS rank
      FROM (SELECT DISTINCT v, user_id FROM ${sql.table(pairs)}) AS d
      GROUP BY v
    ) AS r`;
}

/**
 * SQL: join condition of a row's value `left` to a group's value `right`, null matching
 * null. Written as two equalities (not IS NOT DISTINCT FROM) so PostgreSQL can hash it.
 */
export function sameValue(left: string, right: string): RawBuilder<boolean> {
  const l = sql.ref(left);
  const r = sql.ref(right);
  return sql<boolean>`(${l} IS NULL) = (${r} IS NULL) AND coalesce(${l}, '') = coalesce(${r}, '')`;
}
