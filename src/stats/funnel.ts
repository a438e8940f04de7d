import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.js';
import { validationError } from '../errors.js';
import type { DayRange } from './dates.js';
import { exploring } from './explore-settings.js';
import {
  type Breakdown,
  matchesFilters,
  OTHER,
  onDays,
  opaque,
  type PropertyFilter,
  paddedInstants,
  propertyText,
} from './filters.js';
import { roundedRate } from './retention.js';
import type { Zone } from './zone.js';

/**
 * Funnels, with ClickHouse windowFunnel semantics (which PostHog uses), exactly:
 *
 * - A user enters at any event of step 1 whose local day (in the zone) is in [from, to].
 *   Only the entry is bound to the range: later steps may happen after `to` (up to the
 *   window), as in PostHog, so a funnel over last week still counts a purchase made today
 *   by someone who signed up on the range's last day.
 * - From an entry at t1, step k+1 is reached by an event of its type at t >= t_k (the time
 *   of the event that reached step k: "at or after" includes the same instant, whatever
 *   order the two events were stored in) and t <= t1 + window (the bound included). The
 *   window is elapsed time: 1d is 86,400 s even across a daylight-saving change.
 * - Matching each step at its earliest possible event is optimal (an earlier match never
 *   leaves fewer later events to match), so an entry's level is the length of that greedy
 *   chain, and a user's level is the greatest over their entries. Step k counts the users
 *   whose level is at least k.
 * - Conversion: users of the step / users of the step before (resp. of step 1), rounded
 *   half-up to 4 places, 0 when the divisor is 0; step 1 has 1 for both (0 when nobody
 *   entered).
 * - median_seconds_from_previous of step k >= 2: over the users who reached step k, each
 *   user's t_k - t_{k-1} in the greedy chain from their earliest entry that reaches their
 *   level. For an even number of users it is the lower of the two middle values (SQL's
 *   percentile_disc(0.5), ClickHouse's medianExactLow): always a time some user really
 *   took, exact to the microsecond, with no averaging of two users. null for step 1 and
 *   for a step nobody reached.
 * - Filters apply to every step's events. A breakdown groups entries by the entry event's
 *   property text: a group's funnel is the funnel of the entries carrying its values (a
 *   user whose entries carry two values counts in both); the values with the most entered
 *   users get their own group, the rest are merged in "$other" (a user once).
 *
 * How: PostgreSQL reads the step events of the users who entered, bounded to [from - 1
 * day, to + 2 days + window) so only the partitions of that span are touched, and returns
 * one row per user with the step numbers and times (microseconds since the span's start);
 * the chains are then walked here, per user, in time O(entries x steps x log events).
 */

export interface FunnelStep {
  event_type: string;
  users: number;
  conversion_from_previous: number;
  conversion_from_first: number;
  median_seconds_from_previous: number | null;
}

export interface BreakdownFunnelStep extends FunnelStep {
  breakdown: string | null;
}

export interface Funnel<Step extends FunnelStep = FunnelStep> {
  steps: Step[];
}

export const MIN_STEPS = 2;
export const MAX_STEPS = 10;
export const DEFAULT_WINDOW = '7d';
export const MAX_WINDOW_SECONDS = 90 * 86_400;
const UNIT_SECONDS: Record<string, number> = { m: 60, h: 3600, d: 86_400 };

/** `steps`: 2 to 10 distinct event types, comma-separated, in order. */
export function parseSteps(text: string | undefined): string[] {
  const steps = (text ?? '').split(',');
  let problem: string | undefined;
  if (text === undefined || text === '')
    problem = 'is required: 2 to 10 event types, comma-separated';
  else if (steps.length < MIN_STEPS || steps.length > MAX_STEPS)
    problem = `must list ${MIN_STEPS} to ${MAX_STEPS} event types, got ${steps.length}`;
  else if (steps.some((s) => s.length === 0 || s.length > 128))
    problem = 'each event type must have 1 to 128 characters';
  else if (new Set(steps).size !== steps.length) problem = 'the event types must be distinct';
  if (problem) throw validationError('invalid steps', [{ field: 'steps', message: problem }]);
  return steps;
}

/** `window`: `<n>m`, `<n>h` or `<n>d` (default 7d, at most 90d), as seconds. */
export function parseWindow(text: string | undefined): number {
  const m = /^([1-9][0-9]{0,6})([mhd])$/.exec(text ?? DEFAULT_WINDOW);
  const seconds = m ? Number(m[1]) * (UNIT_SECONDS[m[2] as string] as number) : Number.NaN;
  if (!(seconds <= MAX_WINDOW_SECONDS)) {
    throw validationError('invalid window', [
      { field: 'window', message: 'must be <n>m, <n>h or <n>d, at least 1m and at most 90d' },
    ]);
  }
  return seconds;
}

/** One user's step events as PostgreSQL returns them (parallel arrays, in no order). */
interface UserRow {
  /**
   * "step us step us ...": each step event's step number and time (microseconds since the
   * span's start, exact integers). One string per user rather than two arrays: parsing
   * arrays of 100k numbers made most of the funnel's time in Node (garbage collection).
   */
  events: string;
  /** The breakdown text of each event, in the same order (only entries' are used). */
  values?: (string | null)[];
}

/**
 * Walks one user at a time through the funnel, in buffers reused from user to user: with
 * an array per user and step, allocation (garbage collection) was most of the funnel's
 * time in Node at 40k users.
 */
class ChainWalker {
  private step = new Int32Array(64);
  private at = new Float64Array(64);
  private order = new Int32Array(64);
  /** The user's events of step k (time order) are sorted[begin[k] .. begin[k + 1]). */
  private sorted = new Float64Array(64);
  /** For the i-th entry (time order): its index in the row, for its breakdown value. */
  private entryRow = new Int32Array(64);
  private readonly begin: Int32Array;
  private readonly chain: Float64Array;
  /** The best chain's times after walk(): best[0 .. level). */
  readonly best: Float64Array;
  private row: UserRow | undefined;

  constructor(private readonly stepCount: number) {
    this.begin = new Int32Array(stepCount + 1);
    this.chain = new Float64Array(stepCount);
    this.best = new Float64Array(stepCount);
  }

  private grow(n: number): void {
    if (n <= this.step.length) return;
    const size = Math.max(n, this.step.length * 2);
    this.step = new Int32Array(size);
    this.at = new Float64Array(size);
    this.order = new Int32Array(size);
    this.sorted = new Float64Array(size);
    this.entryRow = new Int32Array(size);
  }

  /** Reads a user's "step us step us ..." text (digits and single spaces). */
  load(row: UserRow): void {
    this.row = row;
    const text = row.events;
    let n = 0;
    let value = 0;
    let isTime = false;
    // Each event takes at least 4 characters ("1 0 "), so this holds all of them.
    this.grow((text.length + 1) >> 2);
    for (let i = 0; i <= text.length; i++) {
      const c = i < text.length ? text.charCodeAt(i) : 32;
      if (c !== 32) {
        value = value * 10 + (c - 48);
        continue;
      }
      if (isTime) {
        this.at[n] = value;
        this.order[n] = n;
        n++;
      } else {
        this.step[n] = value - 1;
      }
      isTime = !isTime;
      value = 0;
    }
    // Insertion sort by time: a user's step events are few.
    const { at, order } = this;
    for (let i = 1; i < n; i++) {
      const o = order[i] as number;
      const t = at[o] as number;
      let j = i - 1;
      while (j >= 0 && (at[order[j] as number] as number) > t) {
        order[j + 1] = order[j] as number;
        j--;
      }
      order[j + 1] = o;
    }
    // Counting sort by step, keeping time order within a step.
    this.begin.fill(0);
    for (let i = 0; i < n; i++) {
      const k = (this.step[i] as number) + 1;
      this.begin[k] = (this.begin[k] as number) + 1;
    }
    for (let k = 0; k < this.stepCount; k++)
      this.begin[k + 1] = (this.begin[k + 1] as number) + (this.begin[k] as number);
    const next = this.begin.slice(0, this.stepCount);
    for (let i = 0; i < n; i++) {
      const o = order[i] as number;
      const k = this.step[o] as number;
      const position = next[k] as number;
      this.sorted[position] = at[o] as number;
      if (k === 0) this.entryRow[position] = o;
      next[k] = position + 1;
    }
  }

  /** The breakdown value of the user's i-th entry (time order). */
  entryValue(i: number): string | null {
    return this.row?.values?.[this.entryRow[i] as number] ?? null;
  }

  entries(): number {
    return this.begin[1] as number;
  }

  /**
   * The loaded user's level over the entries `useEntry` accepts (0: none accepted); best
   * holds the greedy chain from the earliest such entry reaching it.
   */
  walk(windowUs: number, useEntry: (value: string | null) => boolean): number {
    const { sorted, begin, chain, best, stepCount } = this;
    let level = 0;
    const entries = begin[1] as number;
    for (let e = 0; e < entries && level < stepCount; e++) {
      if (!useEntry(this.entryValue(e))) continue;
      const start = sorted[e] as number;
      chain[0] = start;
      let reached = 1;
      for (let k = 1; k < stepCount; k++) {
        // The first event of step k at or after the previous step's (binary search).
        let lo = begin[k] as number;
        let hi = begin[k + 1] as number;
        const after = chain[k - 1] as number;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if ((sorted[mid] as number) < after) lo = mid + 1;
          else hi = mid;
        }
        if (lo === begin[k + 1] || (sorted[lo] as number) > start + windowUs) break;
        chain[k] = sorted[lo] as number;
        reached++;
      }
      if (reached > level) {
        level = reached;
        best.set(chain.subarray(0, reached));
      }
    }
    return level;
  }
}

/** The lower median of a non-empty list. */
function lowerMedian(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] as number;
}

function funnelSteps(
  steps: string[],
  rows: UserRow[],
  windowUs: number,
  useEntry: (value: string | null) => boolean,
): FunnelStep[] {
  const walker = new ChainWalker(steps.length);
  const reached = steps.map(() => 0);
  const gaps: number[][] = steps.map(() => []);
  for (const row of rows) {
    walker.load(row);
    const level = walker.walk(windowUs, useEntry);
    for (let k = 0; k < level; k++) {
      reached[k] = (reached[k] as number) + 1;
      if (k > 0) gaps[k]?.push((walker.best[k] as number) - (walker.best[k - 1] as number));
    }
  }
  const first = reached[0] as number;
  return steps.map((event_type, k) => {
    const count = reached[k] as number;
    const previous = k === 0 ? first : (reached[k - 1] as number);
    const stepGaps = gaps[k] as number[];
    return {
      event_type,
      users: count,
      conversion_from_previous: roundedRate(count, previous),
      conversion_from_first: roundedRate(count, first),
      median_seconds_from_previous:
        k === 0 || stepGaps.length === 0 ? null : lowerMedian(stepGaps) / 1e6,
    };
  });
}

/** Byte order of UTF-8, as PostgreSQL's "C" collation compares (the SQL breakdowns' tie order). */
function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** The breakdown groups of the entry values: ranked values, then the rest as one group. */
function entryGroups(rows: UserRow[], stepCount: number, limit: number) {
  const walker = new ChainWalker(stepCount);
  const usersOf = new Map<string | null, number>();
  for (const row of rows) {
    walker.load(row);
    const values = new Set<string | null>();
    for (let e = 0; e < walker.entries(); e++) values.add(walker.entryValue(e));
    for (const v of values) usersOf.set(v, (usersOf.get(v) ?? 0) + 1);
  }
  const ranked = [...usersOf.entries()]
    .sort(
      ([va, a], [vb, b]) =>
        b - a ||
        Number(va === null) - Number(vb === null) ||
        (va !== null && vb !== null ? byteCompare(va, vb) : 0),
    )
    .map(([v]) => v);
  const top = ranked.slice(0, limit);
  const groups: { label: string | null; accepts: (v: string | null) => boolean }[] = top.map(
    (value) => ({ label: value, accepts: (v) => v === value }),
  );
  if (ranked.length > limit) {
    const named = new Set(top);
    groups.push({ label: OTHER, accepts: (v) => !named.has(v) });
  }
  return groups;
}

async function stepEvents(
  db: Kysely<Database>,
  projectId: number,
  range: DayRange,
  zone: Zone,
  steps: string[],
  windowSeconds: number,
  filters: PropertyFilter[],
  breakdown: Breakdown | undefined,
): Promise<UserRow[]> {
  const start = sql`(${range.from}::date - 1)::timestamp AT TIME ZONE ${zone.name}`;
  // Both aggregates of one Agg node read the group's rows in the same order.
  const values = breakdown ? sql`, array_agg(${propertyText(breakdown.key)}) AS values` : sql``;
  const isEntry = sql`e.event_type = ${steps[0]}::text`;
  // One pass over the span's step events, grouped per user; the users without an entry
  // are dropped by HAVING (step-1 events outside the range are no entries: left out).
  const { rows } = await exploring(db, (trx) =>
    sql<UserRow>`
    SELECT string_agg(array_position(${steps}::text[], e.event_type)::text || ' '
             || (extract(epoch FROM e.occurred_at - ${start}) * 1000000)::bigint::text, ' ') AS events
           ${values}
    FROM events e
    WHERE e.project_id = ${projectId}::int
      AND e.event_type = ANY(${steps}::text[])
      AND ${paddedInstants('e.occurred_at', range, zone, windowSeconds)}
      AND ${opaque(sql`(NOT (${isEntry}) OR ${onDays('e.occurred_at', range, zone)}) AND ${matchesFilters(filters)}`)}
    GROUP BY e.user_id COLLATE "C"
    HAVING bool_or(${isEntry})`.execute(trx),
  );
  return rows;
}

/** The funnel of `steps` (see the module comment); one set of steps per breakdown group. */
export async function funnel(
  db: Kysely<Database>,
  projectId: number,
  range: DayRange,
  zone: Zone,
  steps: string[],
  windowSeconds: number,
  filters: PropertyFilter[],
): Promise<Funnel> {
  const rows = await stepEvents(
    db,
    projectId,
    range,
    zone,
    steps,
    windowSeconds,
    filters,
    undefined,
  );
  return { steps: funnelSteps(steps, rows, windowSeconds * 1e6, () => true) };
}

/** The funnel broken down by the entry event's `breakdown.key`: steps of each group in rank order. */
export async function breakdownFunnel(
  db: Kysely<Database>,
  projectId: number,
  range: DayRange,
  zone: Zone,
  steps: string[],
  windowSeconds: number,
  filters: PropertyFilter[],
  breakdown: Breakdown,
): Promise<Funnel<BreakdownFunnelStep>> {
  const rows = await stepEvents(
    db,
    projectId,
    range,
    zone,
    steps,
    windowSeconds,
    filters,
    breakdown,
  );
  return {
    steps: entryGroups(rows, steps.length, breakdown.limit).flatMap((group) =>
      funnelSteps(steps, rows, windowSeconds * 1e6, group.accepts).map((step) => ({
        ...step,
        breakdown: group.label,
      })),
    ),
  };
}
