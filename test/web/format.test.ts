import { describe, expect, it } from 'vitest';
import { formatDuration, formatPercent, groupLabel } from '../../web/src/format.js';

describe('how the page writes numbers', () => {
  it('writes durations as people read them', () => {
    const cases: [number, string][] = [
      [0, '0 s'],
      [0.25, '0.25 s'],
      [59.5, '59.5 s'],
      [60, '1 min'],
      [61, '1 min 1 s'],
      [3599.6, '1 h'],
      [3660, '1 h 1 min'],
      [86_400, '1 d'],
      [90_000, '1 d 1 h'],
      [90 * 86_400, '90 d'],
    ];
    for (const [seconds, text] of cases)
      expect(formatDuration(seconds), String(seconds)).toBe(text);
  });

  it('writes rates as percentages and breakdown values as labels', () => {
    expect(formatPercent(0.1316)).toBe('13.16%');
    expect(formatPercent(1)).toBe('100%');
    expect([
      groupLabel(null),
      groupLabel(undefined),
      groupLabel('$other'),
      groupLabel('ios'),
    ]).toEqual(['(none)', '(none)', 'Other', 'ios']);
  });
});
