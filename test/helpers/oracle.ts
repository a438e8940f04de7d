/**
 * Straightforward in-memory answers to the /stats questions, written from the SPEC's
 * definitions with no cleverness, to check the service against.
 */
export interface StoredEvent {
  event_id: string;
  epochMs: number;
  user_id: string;
  event_type: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The calendar day (YYYY-MM-DD) of an instant in a time zone. */
export function localDay(epochMs: number, tz: string): string {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone: tz,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    });
    formatters.set(tz, f);
  }
  return f.format(new Date(epochMs));
}

export function addDays(day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) out.push(d);
  return out;
}

/** Keeps the first version of each event_id, in ingestion order (first write wins). */
export function dedupe<T extends { event_id: string }>(events: T[]): T[] {
  const seen = new Map<string, T>();
  for (const e of events)
    if (!seen.has(e.event_id.toLowerCase())) seen.set(e.event_id.toLowerCase(), e);
  return [...seen.values()];
}

export function oracleDau(events: StoredEvent[], from: string, to: string, tz: string) {
  const users = new Map<string, Set<string>>();
  for (const e of events) {
    const day = localDay(e.epochMs, tz);
    if (!users.has(day)) users.set(day, new Set());
    users.get(day)?.add(e.user_id);
  }
  return daysBetween(from, to).map((date) => ({ date, unique_users: users.get(date)?.size ?? 0 }));
}

/** Byte order of UTF-8, as PostgreSQL's "C" collation compares. */
function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

export function oracleTopEvents(
  events: StoredEvent[],
  from: string,
  to: string,
  tz: string,
  limit: number,
) {
  const stats = new Map<string, { count: number; users: Set<string> }>();
  for (const e of events) {
    const day = localDay(e.epochMs, tz);
    if (day < from || day > to) continue;
    const s = stats.get(e.event_type) ?? { count: 0, users: new Set<string>() };
    s.count++;
    s.users.add(e.user_id);
    stats.set(e.event_type, s);
  }
  return [...stats.entries()]
    .map(([event_type, s]) => ({ event_type, count: s.count, unique_users: s.users.size }))
    .sort((a, b) => b.count - a.count || byteCompare(a.event_type, b.event_type))
    .slice(0, limit);
}

export function oracleRetention(
  events: StoredEvent[],
  startDate: string,
  windows: number,
  tz: string,
) {
  const first = new Map<string, number>();
  for (const e of events)
    first.set(e.user_id, Math.min(first.get(e.user_id) ?? Infinity, e.epochMs));
  const cohort = new Set(
    [...first].filter(([, ms]) => localDay(ms, tz) === startDate).map(([u]) => u),
  );
  const windowsOut = [];
  for (let n = 0; n <= windows; n++) {
    const day = addDays(startDate, n);
    const active = new Set(
      events
        .filter((e) => cohort.has(e.user_id) && localDay(e.epochMs, tz) === day)
        .map((e) => e.user_id),
    );
    // Exact decimal rounding half-up, via integer arithmetic on a string: independent of the service's code.
    const rate =
      cohort.size === 0
        ? 0
        : Number((Math.round((active.size * 1e6) / cohort.size / 100) / 1e4).toFixed(4));
    windowsOut.push({ day: n, count: active.size, rate });
  }
  return { start_date: startDate, cohort_size: cohort.size, windows: windowsOut };
}

/** Distinct users per day, in the 7 and in the 30 days ending on each day of [from, to]. */
export function oracleActiveUsers(events: StoredEvent[], from: string, to: string, tz: string) {
  const days = events.map((e) => ({ user: e.user_id, day: localDay(e.epochMs, tz) }));
  const activeIn = (first: string, last: string) =>
    new Set(days.filter((d) => d.day >= first && d.day <= last).map((d) => d.user)).size;
  return daysBetween(from, to).map((date) => ({
    date,
    dau: activeIn(date, date),
    wau: activeIn(addDays(date, -6), date),
    mau: activeIn(addDays(date, -29), date),
  }));
}

function mondayOf(day: string): string {
  const weekday = new Date(`${day}T00:00:00Z`).getUTCDay(); // 0 = Sunday
  return addDays(day, -((weekday + 6) % 7));
}

function rate(count: number, size: number): number {
  return size === 0 ? 0 : Number((Math.round((count * 1e6) / size / 100) / 1e4).toFixed(4));
}

/**
 * Cohorts by local day or ISO week of each user's first event; entry n: cohort users with
 * an event in period n after the cohort; only periods that ended before `today` (local).
 */
export function oracleRetentionMatrix(
  events: StoredEvent[],
  from: string,
  to: string,
  windows: number,
  period: 'day' | 'week',
  tz: string,
  today: string,
) {
  const length = period === 'day' ? 1 : 7;
  const periodOf = (day: string) => (period === 'day' ? day : mondayOf(day));
  const first = new Map<string, number>();
  for (const e of events)
    first.set(e.user_id, Math.min(first.get(e.user_id) ?? Infinity, e.epochMs));
  const cohorts = [];
  for (let start = periodOf(from); start <= periodOf(to); start = addDays(start, length)) {
    const members = new Set(
      [...first].filter(([, ms]) => periodOf(localDay(ms, tz)) === start).map(([u]) => u),
    );
    const counts: number[] = [];
    for (let n = 0; n <= windows; n++) {
      const periodStart = addDays(start, n * length);
      const periodEnd = addDays(periodStart, length - 1);
      if (periodEnd >= today) break;
      const active = new Set(
        events
          .filter((e) => members.has(e.user_id))
          .filter((e) => {
            const day = localDay(e.epochMs, tz);
            return day >= periodStart && day <= periodEnd;
          })
          .map((e) => e.user_id),
      );
      counts.push(active.size);
    }
    cohorts.push({
      start_date: start,
      size: members.size,
      counts,
      rates: counts.map((c) => rate(c, members.size)),
    });
  }
  return { period, cohorts };
}
