import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.js';
import { addDays, type DayRange, parseDay, today } from './dates.js';
import { retentionReachRows, roundedRate } from './retention.js';
import type { Zone } from './zone.js';

export type Period = 'day' | 'week';
const PERIOD_DAYS: Record<Period, number> = { day: 1, week: 7 };

export interface Cohort {
  start_date: string;
  size: number;
  counts: number[];
  rates: number[];
}

export interface RetentionMatrix {
  period: Period;
  cohorts: Cohort[];
}

/** The Monday of the ISO week of a day (1970-01-01 was a Thursday). */
export function isoWeekStart(day: string): string {
  const n = parseDay(day) as number;
  return addDays(day, -((n + 3) % 7));
}

/** The cohort start days of a range: each day, or the Monday of each ISO week touched. */
export function cohortStarts(range: DayRange, period: Period): string[] {
  const step = PERIOD_DAYS[period];
  const first = period === 'week' ? isoWeekStart(range.from) : range.from;
  const last = period === 'week' ? isoWeekStart(range.to) : range.to;
  const out: string[] = [];
  for (let d = first; d <= last; d = addDays(d, step)) out.push(d);
  return out;
}

/**
 * A cohort per local day or ISO week: the users whose first event ever falls in it. Entry
 * n: cohort users active in period n after it (n = 0..windows; entry 0 is the size).
 * Periods that have not ended (relative to now in the zone) are left out.
 *
 * Counted from retention_reach rows: a user is counted in a period on their first active
 * day in it, the one whose previous active day is before the period's start (the rows
 * keep previous days up to 7 days back, enough for a week).
 */
export async function retentionMatrix(
  db: Kysely<Database>,
  projectId: number,
  range: DayRange,
  period: Period,
  windows: number,
  zone: Zone,
  now = new Date(),
): Promise<RetentionMatrix> {
  const length = PERIOD_DAYS[period];
  const starts = cohortStarts(range, period);
  const first = starts[0] as string;
  const lastStart = starts[starts.length - 1] as string;
  const rows = retentionReachRows(projectId, zone, {
    firstCohort: first,
    lastCohort: addDays(lastStart, length - 1),
    lastDay: addDays(lastStart, (windows + 1) * length - 1),
  });
  const { rows: cells } = await sql<{ cohort: string; n: number; users: number }>`
    SELECT c.cohort, c.n, sum(c.users)::int AS users
    FROM (
      SELECT r.users, r.previous_day, s.cohort, (r.day - s.cohort) / ${length}::int AS n
      FROM (${rows}) AS r
      CROSS JOIN LATERAL (
        SELECT ${first}::date + ${length}::int * ((r.cohort_day - ${first}::date) / ${length}::int) AS cohort
      ) AS s
    ) AS c
    WHERE c.n <= ${windows}::int AND c.previous_day < c.cohort + c.n * ${length}::int
    GROUP BY c.cohort, c.n`.execute(db);
  const byCohort = new Map<string, number[]>();
  for (const cell of cells) {
    const counts = byCohort.get(cell.cohort) ?? [];
    counts[cell.n] = cell.users;
    byCohort.set(cell.cohort, counts);
  }
  const todayNumber = today(zone.name, now);
  return {
    period,
    cohorts: starts.map((start) => {
      const found = byCohort.get(start) ?? [];
      const startNumber = parseDay(start) as number;
      // Period n has ended when its last day is before today.
      const ended = Math.max(
        0,
        Math.min(windows + 1, Math.floor((todayNumber - startNumber) / length)),
      );
      const counts = Array.from({ length: ended }, (_, n) => found[n] ?? 0);
      const size = found[0] ?? 0;
      return {
        start_date: start,
        size,
        counts,
        rates: counts.map((c) => roundedRate(c, size)),
      };
    }),
  };
}
