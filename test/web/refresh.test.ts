import { describe, expect, it } from 'vitest';
import {
  DEFAULT_REFRESH_S,
  MAX_REFRESH_S,
  MIN_REFRESH_S,
  refreshMs,
} from '../../web/src/refresh.js';

describe('?refresh= (finding 5)', () => {
  it('is held within 5 s .. 1 h; anything but a positive number gives the default', () => {
    expect([MIN_REFRESH_S, DEFAULT_REFRESH_S, MAX_REFRESH_S]).toEqual([5, 10, 3600]);
    const cases: [string, number][] = [
      ['', 10_000],
      ['?refresh=30', 30_000],
      ['?refresh=5', 5_000],
      ['?refresh=1', 5_000],
      ['?refresh=0.5', 5_000],
      ['?refresh=3600', 3_600_000],
      ['?refresh=2147484', 3_600_000],
      ['?refresh=1e308', 3_600_000],
      ['?refresh=Infinity', 10_000],
      ['?refresh=NaN', 10_000],
      ['?refresh=abc', 10_000],
      ['?refresh=', 10_000],
      ['?refresh=0', 10_000],
      ['?refresh=-5', 10_000],
      ['?refresh=1e-308', 5_000],
    ];
    for (const [search, ms] of cases) expect(refreshMs(search), search).toBe(ms);
  });
});
