/**
 * In-memory answers to the exploration questions (funnels, filters, breakdowns,
 * properties), written from issue 17's definitions as literally as possible, to check
 * src/stats/{funnel,filtered-*,properties}.ts against. Independent of the modules: no
 * greedy shortcut in the funnel (every chain is searched), number texts derived from the
 * JSON literal by hand.
 */
import { isLosslessNumber, parse } from 'lossless-json';
import { addDays, localDay } from './oracle.js';

export interface RawEvent {
  project_id: number;
  source: number;
  event_id: string;
  /** Microseconds since the epoch. */
  us: number;
  user_id: string;
  event_type: string;
  /** The properties object's JSON text, as inserted. */
  properties: string;
}

export interface Filter {
  key: string;
  value: string;
}

/**
 * The text PostgreSQL gives a JSON number literal stored in jsonb (numeric): the exponent
 * written out, the scale of the literal (fraction digits minus exponent, at least 0) kept,
 * leading zeros dropped, no sign on zero.
 */
export function numericText(literal: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (!m) throw new Error(`not a JSON number: ${literal}`);
  const [, sign, int = '', frac = '', exp = '0'] = m;
  const digits = int + frac;
  const point = int.length + Number(exp); // digits before the decimal point
  let whole: string;
  let fraction: string;
  if (point <= 0) {
    whole = '0';
    fraction = '0'.repeat(-point) + digits;
  } else if (point >= digits.length) {
    whole = digits + '0'.repeat(point - digits.length);
    fraction = '';
  } else {
    whole = digits.slice(0, point);
    fraction = digits.slice(point);
  }
  whole = whole.replace(/^0+(?=\d)/, '');
  const zero = /^[0]*$/.test(whole + fraction);
  return `${zero ? '' : sign}${whole}${fraction ? `.${fraction}` : ''}`;
}

const parsedProps = new Map<string, Record<string, unknown>>();
function props(e: RawEvent): Record<string, unknown> {
  let p = parsedProps.get(e.properties);
  if (!p) {
    p = parse(e.properties) as Record<string, unknown>;
    parsedProps.set(e.properties, p);
  }
  return p;
}

/** A property's text as issue 17 defines it; undefined when it has none. */
export function textOf(e: RawEvent, key: string): string | undefined {
  if (key === 'event_type') return e.event_type;
  if (key === 'user_id') return e.user_id;
  const p = props(e);
  if (!Object.hasOwn(p, key)) return undefined;
  const v = p[key];
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  if (isLosslessNumber(v)) return numericText(v.value);
  return undefined; // null, object, array
}

export const matches = (e: RawEvent, filters: Filter[]) =>
  filters.every((f) => textOf(e, f.key) === f.value);

export const dayOf = (e: RawEvent, tz: string) => localDay(Math.floor(e.us / 1000), tz);

export function inRange(e: RawEvent, project: number, from: string, to: string, tz: string) {
  if (e.project_id !== project) return false;
  const day = dayOf(e, tz);
  return day >= from && day <= to;
}

export function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function days(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) out.push(d);
  return out;
}

function rate(count: number, of: number): number {
  // Half-up to 4 places via exact integers (BigInt): independent of roundedRate.
  if (of === 0) return 0;
  const scaled = (BigInt(count) * 20000n + BigInt(of)) / (2n * BigInt(of));
  return Number(scaled) / 10000;
}

/** Values ranked by distinct users (then nulls last, then byte order): the breakdown groups. */
function groupsOf(pairs: { v: string | null; user: string }[], limit: number) {
  const users = new Map<string | null, Set<string>>();
  for (const { v, user } of pairs) {
    if (!users.has(v)) users.set(v, new Set());
    users.get(v)?.add(user);
  }
  const ranked = [...users.entries()]
    .sort(
      ([a, ua], [b, ub]) =>
        ub.size - ua.size ||
        (a === null ? 1 : 0) - (b === null ? 1 : 0) ||
        (a !== null && b !== null ? byteCompare(a, b) : 0),
    )
    .map(([v]) => v);
  const top = ranked.slice(0, limit);
  const groups = top.map((v) => ({
    label: v as string | null,
    has: (x: string | null) => x === v,
  }));
  if (ranked.length > limit)
    groups.push({ label: '$other', has: (x: string | null) => !top.includes(x) });
  return groups;
}

const breakdownText = (e: RawEvent, key: string) => textOf(e, key) ?? null;

export function oracleBreakdownDau(
  events: RawEvent[],
  project: number,
  from: string,
  to: string,
  tz: string,
  filters: Filter[],
  key: string,
  limit: number,
) {
  const evs = events.filter((e) => inRange(e, project, from, to, tz) && matches(e, filters));
  const groups = groupsOf(
    evs.map((e) => ({ v: breakdownText(e, key), user: e.user_id })),
    limit,
  );
  return days(from, to).flatMap((date) =>
    groups.map((g) => ({
      date,
      breakdown: g.label,
      unique_users: new Set(
        evs
          .filter((e) => dayOf(e, tz) === date && g.has(breakdownText(e, key)))
          .map((e) => e.user_id),
      ).size,
    })),
  );
}

export function oracleBreakdownTopEvents(
  events: RawEvent[],
  project: number,
  from: string,
  to: string,
  tz: string,
  filters: Filter[],
  limit: number,
  key: string,
  valueLimit: number,
) {
  const evs = events.filter((e) => inRange(e, project, from, to, tz) && matches(e, filters));
  const counts = new Map<string, number>();
  for (const e of evs) counts.set(e.event_type, (counts.get(e.event_type) ?? 0) + 1);
  const types = [...counts.entries()]
    .sort(([a, x], [b, y]) => y - x || byteCompare(a, b))
    .slice(0, limit)
    .map(([t]) => t);
  const groups = groupsOf(
    evs.map((e) => ({ v: breakdownText(e, key), user: e.user_id })),
    valueLimit,
  );
  return types.flatMap((event_type) =>
    groups.flatMap((g) => {
      const of = evs.filter((e) => e.event_type === event_type && g.has(breakdownText(e, key)));
      return of.length === 0
        ? []
        : [
            {
              event_type,
              breakdown: g.label,
              count: of.length,
              unique_users: new Set(of.map((e) => e.user_id)).size,
            },
          ];
    }),
  );
}

export function oracleProperties(
  events: RawEvent[],
  project: number,
  from: string,
  to: string,
  tz: string,
  eventType?: string,
) {
  const evs = events.filter(
    (e) =>
      inRange(e, project, from, to, tz) && (eventType === undefined || e.event_type === eventType),
  );
  const keys = new Map<string, { events: number; values: Map<string, number> }>();
  for (const e of evs) {
    for (const key of Object.keys(props(e))) {
      const k = keys.get(key) ?? { events: 0, values: new Map<string, number>() };
      k.events++;
      const value = rawText(e, key);
      if (value !== undefined) k.values.set(value, (k.values.get(value) ?? 0) + 1);
      keys.set(key, k);
    }
  }
  return [...keys.entries()]
    .sort(([a, x], [b, y]) => y.events - x.events || byteCompare(a, b))
    .slice(0, 50)
    .map(([key, k]) => ({
      key,
      events: k.events,
      values: [...k.values.entries()]
        .sort(([a, x], [b, y]) => y - x || byteCompare(a, b))
        .slice(0, 10)
        .map(([value, n]) => ({ value, events: n })),
    }));
}

/** The text of a property itself, even one named like a column (the properties endpoint lists properties). */
function rawText(e: RawEvent, key: string): string | undefined {
  const v = props(e)[key];
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  if (isLosslessNumber(v)) return numericText(v.value);
  return undefined;
}

interface Chain {
  times: number[];
}

/**
 * Funnel by the definition: every entry (a step-1 event on a local day of the range), and
 * from it every way of matching the later steps (events of the step's type at or after
 * the previous match, no later than entry + window), searched exhaustively. The level is
 * the deepest match; the median chain is the earliest entry reaching the user's level,
 * each step at the earliest event from which that level is still reachable.
 */
export function oracleFunnel(
  events: RawEvent[],
  project: number,
  from: string,
  to: string,
  tz: string,
  steps: string[],
  windowSeconds: number,
  filters: Filter[],
  breakdown?: { key: string; limit: number },
) {
  const windowUs = windowSeconds * 1e6;
  const mine = events.filter((e) => e.project_id === project && matches(e, filters));
  const byUser = new Map<string, RawEvent[]>();
  for (const e of mine) {
    if (!byUser.has(e.user_id)) byUser.set(e.user_id, []);
    byUser.get(e.user_id)?.push(e);
  }
  const isEntry = (e: RawEvent) =>
    e.event_type === steps[0] && dayOf(e, tz) >= from && dayOf(e, tz) <= to;

  // Deepest level reachable when step k (0-based) was matched at time t from an entry at start.
  function depth(user: RawEvent[], k: number, t: number, start: number): number {
    if (k === steps.length - 1) return k + 1;
    let best = k + 1;
    for (const e of user) {
      if (e.event_type === steps[k + 1] && e.us >= t && e.us <= start + windowUs)
        best = Math.max(best, depth(user, k + 1, e.us, start));
    }
    return best;
  }

  function chainFor(user: RawEvent[], accept: (e: RawEvent) => boolean): Chain | undefined {
    const entries = user.filter((e) => isEntry(e) && accept(e)).sort((a, b) => a.us - b.us);
    if (entries.length === 0) return undefined;
    const level = Math.max(...entries.map((e) => depth(user, 0, e.us, e.us)));
    const entry = entries.find((e) => depth(user, 0, e.us, e.us) === level) as RawEvent;
    const times = [entry.us];
    for (let k = 1; k < level; k++) {
      const candidates = user
        .filter(
          (e) =>
            e.event_type === steps[k] &&
            e.us >= (times[k - 1] as number) &&
            e.us <= entry.us + windowUs &&
            depth(user, k, e.us, entry.us) >= level,
        )
        .sort((a, b) => a.us - b.us);
      times.push((candidates[0] as RawEvent).us);
    }
    return { times };
  }

  function stepsFor(accept: (e: RawEvent) => boolean) {
    const chains = [...byUser.values()]
      .map((user) => chainFor(user, accept))
      .filter((c): c is Chain => c !== undefined);
    const users = steps.map((_, k) => chains.filter((c) => c.times.length > k).length);
    return steps.map((event_type, k) => {
      const gaps = chains
        .filter((c) => c.times.length > k && k > 0)
        .map((c) => (c.times[k] as number) - (c.times[k - 1] as number))
        .sort((a, b) => a - b);
      return {
        event_type,
        users: users[k] as number,
        conversion_from_previous: rate(users[k] as number, users[k === 0 ? 0 : k - 1] as number),
        conversion_from_first: rate(users[k] as number, users[0] as number),
        median_seconds_from_previous:
          gaps.length === 0 ? null : (gaps[Math.ceil(gaps.length / 2) - 1] as number) / 1e6,
      };
    });
  }

  if (!breakdown) return { steps: stepsFor(() => true) };
  const entries = mine.filter(isEntry);
  const groups = groupsOf(
    entries.map((e) => ({ v: breakdownText(e, breakdown.key), user: e.user_id })),
    breakdown.limit,
  );
  return {
    steps: groups.flatMap((g) =>
      stepsFor((e) => g.has(breakdownText(e, breakdown.key))).map((s) => ({
        ...s,
        breakdown: g.label,
      })),
    ),
  };
}
