import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.js';
import type { DayRange } from './dates.js';
import { exploring } from './explore-settings.js';
import { inRange } from './filters.js';
import type { Zone } from './zone.js';

export const PROPERTY_KEYS = 50;
export const PROPERTY_VALUES = 10;

export interface PropertyKey {
  key: string;
  /** Events of the range that carry the key (whatever its value, null included). */
  events: number;
  /** The most frequent texts of the key's scalar values (what a filter can match). */
  values: { value: string; events: number }[];
}

/**
 * The 50 property keys carried by most of the project's events of the range (of one type
 * when `eventType` is given), each with how many events carry it and its 10 most frequent
 * values. A value is the text a `where` filter compares (src/stats/filters.ts): strings,
 * numbers and booleans; a null, object or array counts for its key but is no value, since
 * no filter can match it. Ties: more events first, then byte order (COLLATE "C").
 *
 * One pass over the range's events: each (key, value text) pair is counted, a key's
 * events are the sum over its pairs (a key occurs once per JSON object).
 */
export async function topProperties(
  db: Kysely<Database>,
  projectId: number,
  range: DayRange,
  zone: Zone,
  eventType?: string,
): Promise<PropertyKey[]> {
  const ofType = eventType === undefined ? sql`true` : sql`e.event_type = ${eventType}::text`;
  const { rows } = await exploring(db, (trx) =>
    sql<{ key: string; events: number; value: string | null; n: number }>`
    WITH pairs AS MATERIALIZED (
      SELECT p.key,
             CASE WHEN jsonb_typeof(p.value) IN ('string', 'number', 'boolean') THEN p.value #>> '{}' END AS value,
             count(*) AS n
      FROM events e CROSS JOIN LATERAL jsonb_each(e.properties) AS p
      WHERE ${inRange(projectId, range, zone, [])} AND ${ofType}
      GROUP BY 1, 2
    ), keys AS (
      SELECT key, sum(n) AS events FROM pairs GROUP BY key
      ORDER BY events DESC, key COLLATE "C" LIMIT ${PROPERTY_KEYS}::int
    ), top_values AS (
      SELECT key, value, n,
             row_number() OVER (PARTITION BY key ORDER BY n DESC, value COLLATE "C") AS rank
      FROM pairs WHERE value IS NOT NULL AND key IN (SELECT key FROM keys)
    )
    SELECT k.key, k.events::bigint AS events, v.value, v.n::bigint AS n
    FROM keys k LEFT JOIN top_values v ON v.key = k.key AND v.rank <= ${PROPERTY_VALUES}::int
    ORDER BY k.events DESC, k.key COLLATE "C", v.rank`.execute(trx),
  );
  const out: PropertyKey[] = [];
  for (const row of rows) {
    let last = out[out.length - 1];
    if (!last || last.key !== row.key) {
      last = { key: row.key, events: row.events, values: [] };
      out.push(last);
    }
    if (row.value !== null) last.values.push({ value: row.value, events: row.n });
  }
  return out;
}
