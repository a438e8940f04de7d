/** Calendar days as 'YYYY-MM-DD' strings, computed in UTC so no local offset shifts them. */

const DAY_MS = 86_400_000;

/** The server refuses longer ranges. */
export const MAX_RANGE_DAYS = 3660;

export function todayIn(timeZone: string, now = new Date()): string {
  // en-CA formats as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(now);
}

export function addDays(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** Days from `from` to `to`, inclusive. */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS) + 1;
}

/** The last `days` days ending today in `timeZone`. */
export function lastDays(days: number, timeZone: string): { from: string; to: string } {
  const to = todayIn(timeZone);
  return { from: addDays(to, -(days - 1)), to };
}

/** Seconds since the epoch of a day's UTC midnight: the x values of the charts. */
export function dayToSeconds(day: string): number {
  return Date.parse(`${day}T00:00:00Z`) / 1000;
}

/** Every IANA zone the browser knows, with UTC and the browser's own zone included. */
export function timeZones(own: string): string[] {
  const zones = new Set(Intl.supportedValuesOf('timeZone'));
  zones.add('UTC');
  zones.add(own);
  return [...zones].sort();
}

export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

const localFormats = new Map<string, Intl.DateTimeFormat>();

/** An instant as `YYYY-MM-DD HH:MM:SS` on the clock of `timeZone`. */
export function formatLocalTime(iso: string, timeZone: string): string {
  let format = localFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    localFormats.set(timeZone, format);
  }
  const part = Object.fromEntries(
    format.formatToParts(new Date(iso)).map((p) => [p.type, p.value]),
  );
  return `${part.year}-${part.month}-${part.day} ${part.hour}:${part.minute}:${part.second}`;
}
