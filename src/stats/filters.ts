import { type RawBuilder, sql } from 'kysely';
import { validationError } from '../errors.js';
import type { DayRange } from './dates.js';
import type { Zone } from './zone.js';

/**
 * Exploration filters (`where=<key>:<value>`, repeatable, all must hold) and breakdowns
 * (`breakdown=<key>`) as SQL fragments over the raw events table. Keys and values are
 * always bound parameters, never spliced into the SQL text.
 *
 * The text of a property (what a filter compares and a breakdown groups by):
 * - `event_type` and `user_id` name the columns (a property of that name cannot be used);
 * - otherwise the event's top-level property <key> when it is a JSON scalar: a string is
 *   its characters, `true`/`false` are those words, a number is PostgreSQL's text of the
 *   stored jsonb number (numeric: `1042` and `1042.0` are different texts, an exponent is
 *   written out: `1e3` is stored and read back as `1000`, `1.50` stays `1.50`). So
 *   `where=build:1042` matches 1042 and "1042" but not 1042.0, exactly as the breakdown
 *   shows them as different values.
 * - A missing key, a JSON `null`, an object or an array has no text: it never matches a
 *   filter and breaks down as `null` (SDKs send null for "not set"; PostHog shows both as
 *   "none"). Every event with breakdown value v is exactly an event `where=<key>:v` matches.
 */

export interface PropertyFilter {
  key: string;
  value: string;
}

export const MAX_FILTERS = 20;
export const MAX_KEY_LENGTH = 256;
export const MAX_VALUE_LENGTH = 1024;
export const DEFAULT_BREAKDOWN_LIMIT = 10;
export const MAX_BREAKDOWN_LIMIT = 50;
/** The row that sums the values outside the breakdown limit. */
export const OTHER = '$other';

/** Keys that name a column of the events table rather than a property. */
const COLUMN_KEYS = new Set(['event_type', 'user_id']);

function badKey(key: string): string | undefined {
  if (key.length === 0) return 'the key must not be empty';
  if (key.length > MAX_KEY_LENGTH) return `the key must be at most ${MAX_KEY_LENGTH} characters`;
  if (key.includes('\u0000')) return 'the key must not contain U+0000';
  return undefined;
}

/**
 * `where` parameters (`key:value`, split at the first colon: a value may contain colons, a
 * key cannot) into filters; 422 naming the bad one.
 */
export function parseFilters(raw: string | string[] | undefined): PropertyFilter[] {
  const items = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  if (items.length > MAX_FILTERS) {
    throw validationError(`at most ${MAX_FILTERS} where filters`, [
      { field: 'where', message: `give at most ${MAX_FILTERS} filters, got ${items.length}` },
    ]);
  }
  return items.map((item) => {
    const colon = item.indexOf(':');
    const key = colon < 0 ? '' : item.slice(0, colon);
    const value = colon < 0 ? '' : item.slice(colon + 1);
    const problem =
      colon < 0
        ? `must be <key>:<value>, got "${item.slice(0, 80)}"`
        : (badKey(key) ??
          (value.length > MAX_VALUE_LENGTH
            ? `the value must be at most ${MAX_VALUE_LENGTH} characters`
            : value.includes('\u0000')
              ? 'the value must not contain U+0000'
              : undefined));
    if (problem)
      throw validationError('invalid where filter', [{ field: 'where', message: problem }]);
    return { key, value };
  });
}

export interface Breakdown {
  key: string;
  limit: number;
}

/** `breakdown` and `breakdown_limit` (default 10, 1..50); undefined without a breakdown. */
export function parseBreakdown(
  key: string | undefined,
  limitText: string | undefined,
): Breakdown | undefined {
  if (key === undefined) {
    if (limitText !== undefined) {
      throw validationError('breakdown_limit without breakdown', [
        { field: 'breakdown_limit', message: 'give breakdown=<key> too' },
      ]);
    }
    return undefined;
  }
  const problem = badKey(key);
  if (problem) {
    throw validationError('invalid breakdown', [{ field: 'breakdown', message: problem }]);
  }
  const limit = limitText === undefined ? DEFAULT_BREAKDOWN_LIMIT : Number(limitText);
  if (!/^\d+$/.test(limitText ?? '10') || limit < 1 || limit > MAX_BREAKDOWN_LIMIT) {
    throw validationError('invalid breakdown_limit', [
      { field: 'breakdown_limit', message: `must be an integer from 1 to ${MAX_BREAKDOWN_LIMIT}` },
    ]);
  }
  return { key, limit };
}

/** SQL: the text of `key` for the events row aliased `alias` (null when it has none). */
export function propertyText(key: string, alias = 'e'): RawBuilder<string | null> {
  if (COLUMN_KEYS.has(key)) return sql<string>`${sql.ref(`${alias}.${key}`)}`;
  const props = sql.ref(`${alias}.properties`);
  return sql<
    string | null
  >`CASE WHEN jsonb_typeof(${props} -> ${key}::text) IN ('string', 'number', 'boolean')
    THEN ${props} ->> ${key}::text END`;
}

/** SQL: every filter holds for the events row aliased `alias` (true without filters). */
export function matchesFilters(filters: PropertyFilter[], alias = 'e'): RawBuilder<boolean> {
  if (filters.length === 0) return sql<boolean>`true`;
  const tests = filters.map((f) =>
    COLUMN_KEYS.has(f.key)
      ? sql`${sql.ref(`${alias}.${f.key}`)} = ${f.value}::text`
      : // ->> is null for a missing key or a JSON null; the type test leaves out objects and
        // arrays, whose ->> text is their JSON.
        sql`(${sql.ref(`${alias}.properties`)} ->> ${f.key}::text) = ${f.value}::text
          AND jsonb_typeof(${sql.ref(`${alias}.properties`)} -> ${f.key}::text) IN ('string', 'number', 'boolean')`,
  );
  return sql<boolean>`(${sql.join(tests, sql` AND `)})`;
}

/**
 * SQL: `condition`, hidden from the planner's selectivity estimate. PostgreSQL has no
 * statistics for expressions such as a local date or a property's text and guesses 0.5%
 * for each range or equality test on them, so a query testing the local day and one filter
 * was planned for a few rows where it read hundreds of thousands: sorts spilled to disk and
 * nested loops probed an index per user. Inside a CASE the test counts as 50%, an
 * overestimate that leads to the hash aggregations and parallel scans these queries need.
 */
export function opaque(condition: RawBuilder<boolean>): RawBuilder<boolean> {
  return sql<boolean>`CASE WHEN ${condition} THEN true ELSE false END`;
}

/** SQL: the instant bounds of the local days [from, to] padded a day each side (index and partition pruning). */
export function paddedInstants(
  column: string,
  range: DayRange,
  zone: Zone,
  extraSeconds = 0,
): RawBuilder<boolean> {
  const at = sql.ref(column);
  const end =
    extraSeconds === 0
      ? sql`(${range.to}::date + 2)::timestamp AT TIME ZONE ${zone.name}`
      : sql`(${range.to}::date + 2)::timestamp AT TIME ZONE ${zone.name} + make_interval(secs => ${extraSeconds}::int)`;
  return sql<boolean>`${at} >= (${range.from}::date - 1)::timestamp AT TIME ZONE ${zone.name} AND ${at} < ${end}`;
}

/**
 * SQL: the instant in `column` falls on a local day of the range (the exact test). Turning
 * an instant into a local date is the costliest step of a scan (about 3x a plain count of
 * the rows), so instants from the start of the range's second day to the start of its
 * last day pass without it: whatever the zone's changes of offset (a few hours at most),
 * their local date is within the range. Only the edge days are converted.
 */
export function onDays(column: string, range: DayRange, zone: Zone): RawBuilder<boolean> {
  const at = sql.ref(column);
  return sql<boolean>`CASE
    WHEN ${at} >= (${range.from}::date + 1)::timestamp AT TIME ZONE ${zone.name}
     AND ${at} < (${range.to}::date)::timestamp AT TIME ZONE ${zone.name} THEN true
    ELSE (${at} AT TIME ZONE ${zone.name})::date BETWEEN ${range.from}::date AND ${range.to}::date END`;
}

/**
 * SQL: the events row aliased `alias` is the project's, falls on a local day of the range
 * and passes every filter. The padded instant bounds let the (project_id, occurred_at)
 * index, and later the time partitions, narrow the scan (as onLocalDays does); the exact
 * tests are opaque() to the planner, the filters first: AND stops at the first false, and a
 * property test costs less than a local date.
 */
export function inRange(
  projectId: number,
  range: DayRange,
  zone: Zone,
  filters: PropertyFilter[],
  alias = 'e',
): RawBuilder<boolean> {
  return sql<boolean>`${sql.ref(`${alias}.project_id`)} = ${projectId}::int
    AND ${paddedInstants(`${alias}.occurred_at`, range, zone)}
    AND ${opaque(sql`${matchesFilters(filters, alias)} AND ${onDays(`${alias}.occurred_at`, range, zone)}`)}`;
}
