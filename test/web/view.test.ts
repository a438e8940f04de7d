import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_STATE,
  forOtherProject,
  parseFilter,
  parseView,
  type ViewState,
  viewSearch,
} from '../../web/src/view.js';

describe('the view in the URL', () => {
  it('opens exactly the view a link names', () => {
    expect(
      parseView('?project=web&from=2025-10-01&to=2025-10-25&tz=Europe/Kyiv&period=week'),
    ).toEqual({
      ...DEFAULT_STATE,
      project: 'web',
      range: { from: '2025-10-01', to: '2025-10-25' },
      tz: 'Europe/Kyiv',
      period: 'week',
    });
    expect(parseView('')).toEqual(DEFAULT_STATE);
    expect(parseView('?range=7').range).toEqual({ last: 7 });
    expect(
      parseView(
        '?steps=signup,activate,purchase&window=30d&step=2&step_by=plan&where=plan:pro&where=url:https://a/b&breakdown=country&user=u%201',
      ),
    ).toMatchObject({
      steps: ['signup', 'activate', 'purchase'],
      window: '30d',
      step: 2,
      stepBy: 'plan',
      where: [
        { key: 'plan', value: 'pro' },
        { key: 'url', value: 'https://a/b' },
      ],
      breakdown: 'country',
      user: 'u 1',
    });
  });

  it('falls back to the defaults on anything malformed', () => {
    const cases: [string, Partial<ViewState>][] = [
      ['?from=2025-10-01', { range: { last: 30 } }],
      ['?from=yesterday&to=2025-10-25', { range: { last: 30 } }],
      ['?range=8', { range: { last: 30 } }],
      ['?period=month', { period: 'day' }],
      ['?window=7y', { window: '7d' }],
      ['?window=0d', { window: '7d' }],
      ['?steps=a,b&step=3', { steps: ['a', 'b'], step: null }],
      ['?steps=a,a,b,,c', { steps: ['a', 'b', 'c'] }],
      ['?steps=a,b,c,d,e,f', { steps: ['a', 'b', 'c', 'd', 'e'] }],
      ['?where=nocolon&where=:x', { where: [] }],
      ['?project=&tz=%20', { project: null, tz: null }],
    ];
    for (const [search, expected] of cases) {
      expect(parseView(search), search).toMatchObject(expected);
    }
  });

  it('splits a filter at its first colon, as the API does', () => {
    expect(parseFilter('url:https://x:8080/')).toEqual({ key: 'url', value: 'https://x:8080/' });
    expect(parseFilter('plan:')).toEqual({ key: 'plan', value: '' });
    expect(parseFilter(':pro')).toBeNull();
  });

  it('writes only what was chosen, and keeps parameters that are not the view’s', () => {
    expect(viewSearch(DEFAULT_STATE)).toBe('');
    expect(viewSearch(DEFAULT_STATE, '?refresh=30&range=7')).toBe('?refresh=30');
    expect(viewSearch({ ...DEFAULT_STATE, project: 'web', range: { last: 7 } })).toBe(
      '?project=web&range=7',
    );
    // Readable where the query allows it; escaped where it must be.
    expect(
      viewSearch({
        ...DEFAULT_STATE,
        tz: 'Europe/Kyiv',
        steps: ['sign up', 'a&b'],
        where: [{ key: 'url', value: 'https://x/?a=1#b' }],
      }),
    ).toBe('?tz=Europe/Kyiv&where=url:https://x/%3Fa%3D1%23b&steps=sign%20up,a%26b');
  });

  it('reads back every state it writes (round trip)', () => {
    const text = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s.trim() === s);
    const key = text.filter((s) => !s.includes(':'));
    const day = fc
      .date({ min: new Date('2000-01-01'), max: new Date('2099-12-31'), noInvalidDate: true })
      .map((d) => d.toISOString().slice(0, 10));
    const steps = fc.uniqueArray(
      text.filter((s) => !s.includes(',')),
      { maxLength: 5 },
    );
    const state = fc
      .record({
        project: fc.option(text, { nil: null }),
        range: fc.oneof(
          fc.constantFrom(7 as const, 30 as const, 90 as const).map((last) => ({ last })),
          fc.record({ from: day, to: day }),
        ),
        tz: fc.option(text, { nil: null }),
        period: fc.constantFrom('day' as const, 'week' as const),
        where: fc.array(fc.record({ key, value: fc.string({ maxLength: 8 }) }), { maxLength: 3 }),
        breakdown: fc.option(text, { nil: null }),
        steps,
        window: fc.constantFrom('1h', '7d', '90d', '45m'),
        stepBy: fc.option(text, { nil: null }),
        user: fc.option(text, { nil: null }),
        stepSeed: fc.nat(),
      })
      .map(({ stepSeed, ...s }) => ({
        ...s,
        step: s.steps.length === 0 ? null : (stepSeed % s.steps.length) + 1,
      }));
    fc.assert(
      fc.property(state, (s) => {
        expect(parseView(viewSearch(s, '?refresh=30'))).toEqual(s);
      }),
    );
  });

  it('forgets one project’s choices when another project is picked', () => {
    const chosen: ViewState = {
      ...DEFAULT_STATE,
      project: 'web',
      range: { last: 7 },
      tz: 'Europe/Kyiv',
      period: 'week',
      where: [{ key: 'plan', value: 'pro' }],
      breakdown: 'country',
      steps: ['a', 'b'],
      step: 1,
      stepBy: 'plan',
      user: 'u1',
    };
    expect(forOtherProject(chosen, 'mobile')).toEqual({
      ...DEFAULT_STATE,
      project: 'mobile',
      range: { last: 7 },
      period: 'week',
    });
  });
});
