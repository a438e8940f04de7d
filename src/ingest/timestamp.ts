/**
 * Strict ISO 8601 / RFC 3339 date-times: `2025-10-19T10:00:00Z`, `...T10:00:00.123456+03:00`,
 * a space instead of `T`, seconds optional. No offset means UTC. Calendar-impossible values
 * (Feb 30, 25:00) are rejected rather than rolled over as `Date.parse` would.
 */
const PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/;

export interface ParsedTimestamp {
  /** Milliseconds since the epoch (sub-millisecond digits dropped). */
  epochMs: number;
  /** Canonical UTC text with up to microsecond precision, as PostgreSQL stores it. */
  iso: string;
}

/** ±14:00: the largest UTC offset in use (Line Islands, +14:00). */
const MAX_OFFSET_MINUTES = 14 * 60;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
}

/** Returns the parsed instant, or a reason it is not one. */
export function parseTimestamp(text: string): ParsedTimestamp | string {
  const m = PATTERN.exec(text.trim());
  if (!m) return 'must be an ISO 8601 date-time such as 2025-10-19T10:00:00Z';
  const [, y, mo, d, h, mi, s = '0', frac = '', , sign, oh = '0', om = '0'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    return `has an impossible date ${y}-${mo}-${d}`;
  }
  if (hour > 23 || minute > 59 || second > 59) return `has an impossible time ${h}:${mi}:${s}`;
  const offsetMinutes = sign ? (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) : 0;
  // Real offsets lie within -12:00..+14:00; beyond ±14:00 it is a mistake, never a place.
  if (Number(om) > 59 || Math.abs(offsetMinutes) > MAX_OFFSET_MINUTES) {
    return `has an impossible UTC offset ${sign}${oh}:${om} (offsets lie within -14:00..+14:00)`;
  }

  const micros = frac.padEnd(6, '0').slice(0, 6);
  if (!sign && year >= 100) {
    // UTC given (Z or no offset): the canonical text is the digits themselves. This runs
    // once per event (with the Date round trip below it was 9% of the importer's Node CPU).
    // Date.UTC reads years 0-99 as 1900-1999, so those take the path below.
    const epochMs = Date.UTC(
      year,
      month - 1,
      day,
      hour,
      minute,
      second,
      Number(micros.slice(0, 3)),
    );
    return { epochMs, iso: `${y}-${mo}-${d}T${h}:${mi}:${s.padStart(2, '0')}.${micros}Z` };
  }
  const base = new Date(0);
  base.setUTCFullYear(year, month - 1, day);
  base.setUTCHours(hour, minute, second, Number(micros.slice(0, 3)));
  const epochMs = base.getTime() - offsetMinutes * 60_000;
  const utc = new Date(epochMs).toISOString();
  // Outside years 0001..9999 toISOString switches to an extended form no one means.
  if (utc.length !== 24 || utc.startsWith('0000')) return 'is out of range (years 0001-9999)';
  const iso = `${utc.slice(0, 23)}${micros.slice(3)}Z`;
  return { epochMs, iso };
}
