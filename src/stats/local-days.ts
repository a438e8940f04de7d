import { type RawBuilder, sql } from 'kysely';

/**
 * SQL condition: the instant in `column` falls on a calendar day of `tz` from `from` to
 * `to` (date expressions, inclusive). The instant bounds are padded by a day on each side
 * so they stay right whatever the zone's offset or a daylight-saving change, and let the
 * index on the column narrow the scan; the exact test is on the local date.
 */
export function onLocalDays(
  column: string,
  from: RawBuilder<unknown>,
  to: RawBuilder<unknown>,
  tz: string,
): RawBuilder<boolean> {
  const at = sql.ref(column);
  return sql<boolean>`${at} >= (${from} - 1)::timestamp AT TIME ZONE ${tz}
    AND ${at} < (${to} + 2)::timestamp AT TIME ZONE ${tz}
    AND (${at} AT TIME ZONE ${tz})::date BETWEEN ${from} AND ${to}`;
}
