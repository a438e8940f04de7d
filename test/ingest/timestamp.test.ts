import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTimestamp } from '../../src/ingest/timestamp.js';

/** The instant and canonical text by Date arithmetic alone (the general path's way). */
function byDate(
  year: number,
  month: number,
  day: number,
  time: number[],
  micros: string,
  offsetMin: number,
) {
  const base = new Date(0);
  base.setUTCFullYear(year, month - 1, day);
  base.setUTCHours(time[0] ?? 0, time[1] ?? 0, time[2] ?? 0, Number(micros.slice(0, 3)));
  const epochMs = base.getTime() - offsetMin * 60_000;
  const iso = `${new Date(epochMs).toISOString().slice(0, 23)}${micros.slice(3)}Z`;
  return { epochMs, iso };
}

const two = (n: number) => String(n).padStart(2, '0');

describe('parseTimestamp', () => {
  it('gives the same instant and text as Date arithmetic, for UTC and offset forms', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9999 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 28 }),
        fc.tuple(
          fc.integer({ min: 0, max: 23 }),
          fc.integer({ min: 0, max: 59 }),
          fc.integer({ min: 0, max: 59 }),
        ),
        fc.stringMatching(/^[0-9]{0,9}$/),
        fc.constantFrom('Z', 'z', '', '+00:00', '+05:45', '-03:30', '+14:00'),
        fc.constantFrom('T', ' ', 't'),
        fc.boolean(),
        (year, month, day, time, frac, zone, separator, withSeconds) => {
          const seconds = withSeconds ? `:${two(time[2] as number)}${frac ? `.${frac}` : ''}` : '';
          const text = `${String(year).padStart(4, '0')}-${two(month)}-${two(day)}${separator}${two(time[0] as number)}:${two(time[1] as number)}${seconds}${zone}`;
          const offset =
            zone.length === 6
              ? (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4)))
              : 0;
          const micros = (withSeconds ? frac : '').padEnd(6, '0').slice(0, 6);
          const expected = byDate(
            year,
            month,
            day,
            [time[0] as number, time[1] as number, withSeconds ? (time[2] as number) : 0],
            micros,
            offset,
          );
          const parsed = parseTimestamp(text);
          if (expected.iso.length !== 27 || expected.iso.startsWith('0000')) {
            expect(parsed).toBe('is out of range (years 0001-9999)');
          } else {
            expect(parsed).toEqual(expected);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('keeps microseconds and refuses impossible dates', () => {
    expect(parseTimestamp('2025-10-19T10:00:00.123456Z')).toEqual({
      epochMs: Date.UTC(2025, 9, 19, 10, 0, 0, 123),
      iso: '2025-10-19T10:00:00.123456Z',
    });
    expect(parseTimestamp('0050-01-01T00:00:00Z')).toEqual({
      epochMs: byDate(50, 1, 1, [0, 0, 0], '000000', 0).epochMs,
      iso: '0050-01-01T00:00:00.000000Z',
    });
    expect(parseTimestamp('2025-02-29T00:00:00Z')).toBe('has an impossible date 2025-02-29');
  });
});
