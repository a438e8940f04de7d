import { LRUCache } from 'lru-cache';
import { validationError } from '../errors.js';
import type { Zone } from './zone.js';

const DAY_MS = 86_400_000;
export const MAX_RANGE_DAYS = 3660;
export const DEFAULT_RANGE_DAYS = 30;

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
/** 0001-01-01 as days since 1970-01-01: no date, given or derived, is earlier. */
const FIRST_DAY = -719162;
/** 9999-12-31 as days since 1970-01-01: no date, given or derived, is later. */
const LAST_DAY = 2932896;

/**
 * A query's dates and every date derived from them (a 30-day window before `from`, the
 * last period of a cohort after `to`) stay within years 0001..9999, where PostgreSQL and
 * ISO 8601 agree; otherwise a 422 naming the parameter that reaches outside.
 */
export function requireCalendarSpan(field: string, first: number, last: number, why: string): void {
  if (first < FIRST_DAY || last > LAST_DAY) {
    throw validationError(`${field} reaches outside years 0001..9999`, [
      { field, message: `${why} must fall within 0001-01-01..9999-12-31` },
    ]);
  }
}

/** 'YYYY-MM-DD' -> days since 1970-01-01, or undefined if it is not a real calendar date. */
export function parseDay(text: string): number | undefined {
  const m = DATE.exec(text);
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (year < 1) return undefined; // years 0001..9999 only, as PostgreSQL and ISO agree
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  if (
    date.getUTCFullYear() !== year ||
    date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day
  ) {
    return undefined;
  }
  return Math.round(date.getTime() / DAY_MS);
}

export function formatDay(days: number): string {
  return new Date(days * DAY_MS).toISOString().slice(0, 10);
}

/**
 * A YYYY-MM-DD formatter per zone (en-CA formats so). Building one costs ~0.5 ms of CPU,
 * more than the rest of a summary /stats request: they are kept (zone names were checked
 * by parseZone; the cache is bounded all the same).
 */
const dayFormatters = new LRUCache<string, Intl.DateTimeFormat>({ max: 1000 });

/** Today's date in a time zone, as days since the epoch. */
export function today(timeZone: string, now = new Date()): number {
  let format = dayFormatters.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    });
    dayFormatters.set(timeZone, format);
  }
  return parseDay(format.format(now)) as number;
}

export function requireDay(field: string, text: string): number {
  const day = parseDay(text);
  if (day === undefined) {
    throw validationError(`${field} is not a valid date`, [
      { field, message: `must be a real date as YYYY-MM-DD (years 0001..9999), got "${text}"` },
    ]);
  }
  return day;
}

export interface DayRange {
  from: string;
  to: string;
}

/**
 * The inclusive range of a stats query. Omitted bounds default to the last 30 days ending
 * today in the query's time zone (UTC unless `tz` is given). At most `maxDays` days.
 */
export function parseRange(
  fromText: string | undefined,
  toText: string | undefined,
  zone: Zone,
  maxDays = MAX_RANGE_DAYS,
): DayRange {
  const end = toText === undefined ? today(zone.name) : requireDay('to', toText);
  const start =
    fromText === undefined ? end - (DEFAULT_RANGE_DAYS - 1) : requireDay('from', fromText);
  if (start < FIRST_DAY) {
    throw validationError('the range starts before 0001-01-01', [
      { field: 'from', message: 'must be 0001-01-01 or later (by default, 29 days before to)' },
    ]);
  }
  if (start > end) {
    throw validationError('from is after to', [{ field: 'from', message: 'must not be after to' }]);
  }
  if (end - start + 1 > maxDays) {
    throw validationError(`the range is longer than ${maxDays} days`, [
      { field: 'to', message: `must be at most ${maxDays} days after from (inclusive)` },
    ]);
  }
  return { from: formatDay(start), to: formatDay(end) };
}

/** 'YYYY-MM-DD' plus n days. */
export function addDays(day: string, n: number): string {
  return formatDay((parseDay(day) as number) + n);
}
