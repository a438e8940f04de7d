import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/errors.js';
import { MAX_FILTERS, parseBreakdown, parseFilters } from '../../src/stats/filters.js';
import { parseSteps, parseWindow } from '../../src/stats/funnel.js';

function refusal(run: () => unknown): { field?: string; status: number } {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError)
      return { status: error.statusCode, field: error.details?.[0]?.field };
    throw error;
  }
  throw new Error('not refused');
}

describe('exploration parameters', () => {
  it('where=<key>:<value> splits at the first colon; a value may be empty or hold colons', () => {
    expect(parseFilters(undefined)).toEqual([]);
    expect(parseFilters('plan:pro')).toEqual([{ key: 'plan', value: 'pro' }]);
    expect(parseFilters(['url:https://x.test/a:b', 'note:'])).toEqual([
      { key: 'url', value: 'https://x.test/a:b' },
      { key: 'note', value: '' },
    ]);
  });

  it('refuses a filter without a key or colon, and too many filters, with 422 on where', () => {
    for (const bad of ['plan', ':pro', 'a\u0000:b', `${'k'.repeat(257)}:v`]) {
      expect(refusal(() => parseFilters(bad))).toEqual({ status: 422, field: 'where' });
    }
    const many = Array.from({ length: MAX_FILTERS + 1 }, (_, i) => `k${i}:v`);
    expect(refusal(() => parseFilters(many))).toEqual({ status: 422, field: 'where' });
  });

  it('breakdown_limit defaults to 10 and allows 1..50, only with a breakdown', () => {
    expect(parseBreakdown(undefined, undefined)).toBeUndefined();
    expect(parseBreakdown('country', undefined)).toEqual({ key: 'country', limit: 10 });
    expect(parseBreakdown('country', '50')).toEqual({ key: 'country', limit: 50 });
    for (const limit of ['0', '51', '1.5', '-1', 'ten', '']) {
      expect(refusal(() => parseBreakdown('country', limit))).toEqual({
        status: 422,
        field: 'breakdown_limit',
      });
    }
    expect(refusal(() => parseBreakdown(undefined, '5')).field).toBe('breakdown_limit');
    expect(refusal(() => parseBreakdown('', undefined)).field).toBe('breakdown');
  });

  it('steps: 2 to 10 distinct event types', () => {
    expect(parseSteps('signup,activate')).toEqual(['signup', 'activate']);
    for (const bad of [
      undefined,
      '',
      'one',
      'a,a',
      'a,,b',
      Array(11)
        .fill('x')
        .map((x, i) => x + i)
        .join(','),
    ]) {
      expect(refusal(() => parseSteps(bad))).toEqual({ status: 422, field: 'steps' });
    }
  });

  it('window: <n>m|h|d, default 7d, at most 90d', () => {
    expect(parseWindow(undefined)).toBe(7 * 86_400);
    expect(parseWindow('1m')).toBe(60);
    expect(parseWindow('36h')).toBe(36 * 3600);
    expect(parseWindow('90d')).toBe(90 * 86_400);
    expect(parseWindow('129600m')).toBe(90 * 86_400);
    for (const bad of ['0d', '91d', '129601m', '2161h', '1w', 'd', '1.5h', '01d', '-1d', '']) {
      expect(refusal(() => parseWindow(bad))).toEqual({ status: 422, field: 'window' });
    }
  });
});
