/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The page.evaluate callbacks run in the browser.
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDay, parseDay, today } from '../../src/stats/dates.js';
import { formatCount, formatDuration, formatPercent } from '../../web/src/format.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { browserTestsEnabled, launchChromium } from './browser.js';
import { seedEvents, startServer, type TestServer } from './server.js';

const addDays = (day: string, n: number) => formatDay((parseDay(day) as number) + n);

interface FunnelStep {
  event_type: string;
  users: number;
  conversion_from_previous: number;
  conversion_from_first: number;
  median_seconds_from_previous: number | null;
  breakdown?: string | null;
}
interface TopEvent {
  event_type: string;
  count: number;
  unique_users: number;
  breakdown?: string | null;
}

const TIMELINE_USER = 'timeline-user';
const TIMELINE_EVENTS = 120;

/** A breakdown value as the page labels it. */
const label = (value: string | null | undefined) =>
  value === null || value === undefined ? '(none)' : value === '$other' ? 'Other' : value;

/** A funnel step's cells as the page shows them. */
const stepCells = (s: FunnelStep, i: number) => [
  formatCount(s.users),
  i === 0 ? '–' : formatPercent(s.conversion_from_previous),
  formatPercent(s.conversion_from_first),
  s.median_seconds_from_previous === null ? '–' : formatDuration(s.median_seconds_from_previous),
];

/**
 * Exploration on the page (issue 17): the funnel and its step breakdown, filter chips and
 * the breakdown on the active users chart and top events, the user page with "Load more";
 * every number equal to the API's answer, every choice in the URL.
 */
describe.runIf(browserTestsEnabled)('exploring on the dashboard', { timeout: 90_000 }, () => {
  let browser: Browser;
  let database: TestDatabase;
  let server: TestServer;
  const to = formatDay(today('UTC'));
  const from = addDays(to, -29);
  const range = `from=${from}&to=${to}&tz=UTC`;

  beforeAll(async () => {
    [browser, database] = await Promise.all([launchChromium(), createTestDatabase()]);
    server = await startServer(database);
    await seedEvents(server.app, { rows: 4000, users: 500, days: 30, seed: 31, funnels: true });
    // One user with more events than a page, and properties JSON numbers cannot hold.
    const now = Date.now();
    const body = Array.from({ length: TIMELINE_EVENTS }, (_, i) => {
      const at = new Date(now - (i + 1) * 3_600_000).toISOString();
      return `{"event_id":"00000000-0000-4000-8000-${String(i).padStart(12, '0')}","occurred_at":"${at}","user_id":"${TIMELINE_USER}","event_type":"${i % 3 === 0 ? 'purchase' : 'view'}","properties":{"n":${i},"big":9007199254740993${i},"price":1.50,"tag":"t${i}"}}`;
    });
    const posted = await server.app.inject({
      method: 'POST',
      url: '/events',
      headers: { 'content-type': 'application/json' },
      payload: `[${body.join(',')}]`,
    });
    expect(posted.json()).toEqual({ accepted: TIMELINE_EVENTS, skipped: 0 });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await database?.close();
  });

  async function api<T>(url: string): Promise<T> {
    const response = await server.app.inject(url);
    expect(response.statusCode, `${url}: ${response.body}`).toBe(200);
    return response.json() as T;
  }

  async function open(search: string): Promise<{ page: Page; errors: string[] }> {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 1000 },
      locale: 'en-US',
      timezoneId: 'UTC',
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${server.url}/${search}`);
    await loaded(page);
    return { page, errors };
  }

  async function loaded(page: Page): Promise<void> {
    await page.waitForSelector('main[aria-busy="false"]', { timeout: 20_000 });
  }

  /** After a change on the page: its URL, once the new view is drawn. */
  async function urlAfter(page: Page, check: (q: URLSearchParams) => boolean) {
    await page.waitForURL((url) => check(url.searchParams));
    await loaded(page);
    return new URL(page.url()).searchParams;
  }

  const rows = (page: Page, selector: string) =>
    page
      .locator(selector)
      .evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent ?? '')));

  async function funnelRows(page: Page) {
    return (await rows(page, '#funnel-table tbody tr')).map((cells) =>
      cells.filter((_, i) => i !== 1),
    );
  }

  it('draws the funnel its URL names, and breaks a clicked step down', async () => {
    const { page, errors } = await open('?steps=signup,activate,purchase&window=7d&refresh=600');
    const funnel = await api<{ steps: FunnelStep[] }>(
      `/stats/funnel?steps=signup,activate,purchase&window=7d&${range}`,
    );
    expect(funnel.steps[0]?.users).toBeGreaterThan(0);
    expect(funnel.steps[2]?.users).toBeGreaterThan(0);
    expect(await funnelRows(page)).toEqual(
      funnel.steps.map((s, i) => [`${i + 1}. ${s.event_type}`, ...stepCells(s, i)]),
    );
    // Bars: step 1 full width, the others its share.
    const widths = await page
      .locator('#funnel-table .bar')
      .evaluateAll((bars) => bars.map((b) => (b as HTMLElement).style.width));
    expect(widths[0]).toBe('100%');
    expect(Number.parseFloat(widths[1] ?? '')).toBeCloseTo(
      ((funnel.steps[1]?.users ?? 0) / (funnel.steps[0]?.users ?? 1)) * 100,
      3,
    );
    expect(await page.inputValue('#funnel-window')).toBe('7d');

    // A click on step 2: broken down by the first property, in the URL.
    await page.getByRole('button', { name: '2. activate' }).click();
    let query = await urlAfter(page, (q) => q.get('step') === '2');
    const firstKey = query.get('step_by');
    expect(firstKey).toBeTruthy();
    await page.waitForSelector('#funnel-detail:not([hidden])');
    expect(
      await page.getByRole('button', { name: '2. activate' }).getAttribute('aria-pressed'),
    ).toBe('true');

    // Another property: the rows are the API's groups, step 2 of each.
    await page.getByLabel('By', { exact: true }).selectOption('platform');
    query = await urlAfter(page, (q) => q.get('step_by') === 'platform');
    await page.waitForFunction(() =>
      document.getElementById('funnel-detail-title')?.textContent?.endsWith('by platform'),
    );
    const grouped = await api<{ steps: FunnelStep[] }>(
      `/stats/funnel?steps=signup,activate,purchase&window=7d&${range}&breakdown=platform`,
    );
    const expected: string[][] = [];
    for (let i = 0; i < grouped.steps.length; i += 3) {
      const first = grouped.steps[i] as FunnelStep;
      const second = grouped.steps[i + 1] as FunnelStep;
      expected.push([label(second.breakdown), formatCount(first.users), ...stepCells(second, 1)]);
    }
    expect(expected.map((r) => r[0]).sort()).toEqual(['android', 'ios', 'web']);
    expect(await rows(page, '#funnel-breakdown tbody tr')).toEqual(expected);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('builds a funnel from the pickers, each choice a URL, back undoing it', async () => {
    const { page, errors } = await open('?refresh=600');
    expect(await page.locator('#funnel-table').isHidden()).toBe(true);
    expect(await page.textContent('#funnel-note')).toContain('Pick 2 to 5 steps');
    // The event types on offer are the range's.
    const offered = await page
      .locator('#funnel-add option')
      .evaluateAll((nodes) => nodes.map((n) => (n as HTMLOptionElement).value).filter(Boolean));
    const types = await api<TopEvent[]>(`/stats/top-events?${range}&limit=100`);
    expect(offered).toEqual(types.map((t) => t.event_type));

    await page.getByLabel('Add a step').selectOption('signup');
    await urlAfter(page, (q) => q.get('steps') === 'signup');
    expect(await page.locator('#funnel-table').isHidden()).toBe(true);
    await page.getByLabel('Add a step').selectOption('purchase');
    await urlAfter(page, (q) => q.get('steps') === 'signup,purchase');
    await page.getByLabel('Completed within').selectOption('1d');
    const query = await urlAfter(page, (q) => q.get('window') === '1d');
    expect(query.get('steps')).toBe('signup,purchase');
    await page.waitForSelector('#funnel-table:not([hidden])');
    const funnel = await api<{ steps: FunnelStep[] }>(
      `/stats/funnel?steps=signup,purchase&window=1d&${range}`,
    );
    expect(await funnelRows(page)).toEqual(
      funnel.steps.map((s, i) => [`${i + 1}. ${s.event_type}`, ...stepCells(s, i)]),
    );

    // Back: the 7-day window again, with its numbers.
    await page.goBack();
    await urlAfter(page, (q) => q.get('window') === null && q.get('steps') === 'signup,purchase');
    await page.waitForFunction(
      () => (document.getElementById('funnel-window') as HTMLSelectElement).value === '7d',
    );
    const week = await api<{ steps: FunnelStep[] }>(
      `/stats/funnel?steps=signup,purchase&window=7d&${range}`,
    );
    expect(await funnelRows(page)).toEqual(
      week.steps.map((s, i) => [`${i + 1}. ${s.event_type}`, ...stepCells(s, i)]),
    );

    // Removing a step leaves one: no funnel, the hint again.
    await page.getByRole('button', { name: 'Remove step 1' }).click();
    await urlAfter(page, (q) => q.get('steps') === 'purchase');
    expect(await page.locator('#funnel-table').isHidden()).toBe(true);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('filters and breaks down the active users chart and top events', async () => {
    const { page, errors } = await open('?refresh=600');
    const properties = await api<{
      keys: { key: string; values: { value: string }[] }[];
    }>(`/stats/properties?${range}`);
    expect(
      await page
        .locator('#filter-key option')
        .evaluateAll((nodes) => nodes.map((n) => (n as HTMLOptionElement).value).filter(Boolean)),
    ).toEqual([...properties.keys.map((k) => k.key), 'event_type', 'user_id']);

    // Values offered for a key are the API's.
    await page.getByLabel('Filter', { exact: true }).selectOption('platform');
    expect(
      await page
        .locator('#filter-values option')
        .evaluateAll((nodes) => nodes.map((n) => (n as HTMLOptionElement).value)),
    ).toEqual(properties.keys.find((k) => k.key === 'platform')?.values.map((v) => v.value));
    await page.getByLabel('equals').fill('ios');
    await page.getByRole('button', { name: 'Add filter' }).click();
    await urlAfter(page, (q) => q.getAll('where').join() === 'platform:ios');
    expect(await page.textContent('#chips')).toBe('platform = ios');

    const where = 'where=platform:ios';
    const active = await api<{ date: string; dau: number; wau: number; mau: number }[]>(
      `/stats/active-users?${range}&${where}`,
    );
    const unfiltered = await api<{ dau: number }[]>(`/stats/active-users?${range}`);
    expect(active.map((d) => d.dau)).not.toEqual(unfiltered.map((d) => d.dau));
    expect(await rows(page, '#active-table thead tr')).toEqual([['Date', 'DAU', 'WAU', 'MAU']]);
    expect(await rows(page, '#active-table tbody tr')).toEqual(
      active.map((d) => [d.date, formatCount(d.dau), formatCount(d.wau), formatCount(d.mau)]),
    );
    const topRows = async () =>
      (await rows(page, '#top-table tbody tr')).map((cells) =>
        cells.filter((_, i) => i !== cells.length - 3),
      );
    const top = await api<TopEvent[]>(`/stats/top-events?${range}&limit=10&${where}`);
    expect(await topRows()).toEqual(
      top.map((e) => [e.event_type, formatCount(e.count), formatCount(e.unique_users)]),
    );

    // Broken down by country: a DAU line per value, top events per type and value.
    await page.getByLabel('Break down by').selectOption('country');
    await urlAfter(page, (q) => q.get('breakdown') === 'country');
    const dau = await api<{ date: string; unique_users: number; breakdown: string | null }[]>(
      `/stats/dau?${range}&${where}&breakdown=country`,
    );
    const groups = [...new Set(dau.map((d) => label(d.breakdown)))];
    const dates = [...new Set(dau.map((d) => d.date))];
    expect(groups.length).toBeGreaterThan(3);
    expect(await rows(page, '#active-table thead tr')).toEqual([['Date', ...groups]]);
    expect(await rows(page, '#active-table tbody tr')).toEqual(
      dates.map((date) => [
        date,
        ...groups.map((g) =>
          formatCount(
            dau.find((d) => d.date === date && label(d.breakdown) === g)?.unique_users ?? -1,
          ),
        ),
      ]),
    );
    const byCountry = await api<TopEvent[]>(
      `/stats/top-events?${range}&limit=10&${where}&breakdown=country`,
    );
    expect(await topRows()).toEqual(
      byCountry.map((e) => [
        e.event_type,
        label(e.breakdown),
        formatCount(e.count),
        formatCount(e.unique_users),
      ]),
    );
    // The chart has a line per value.
    expect(await page.locator('#active-chart .u-legend .u-series').count()).toBe(groups.length + 1);

    // A reload keeps all of it; removing the chip keeps the breakdown.
    await page.reload();
    await loaded(page);
    expect(await page.inputValue('#breakdown')).toBe('country');
    expect(await page.textContent('#chips')).toBe('platform = ios');
    await page.getByRole('button', { name: 'Remove filter platform = ios' }).click();
    await urlAfter(page, (q) => q.getAll('where').length === 0 && q.get('breakdown') === 'country');
    const all = await api<TopEvent[]>(`/stats/top-events?${range}&limit=10&breakdown=country`);
    expect(await topRows()).toEqual(
      all.map((e) => [
        e.event_type,
        label(e.breakdown),
        formatCount(e.count),
        formatCount(e.unique_users),
      ]),
    );
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('finds a user, shows the profile and the timeline page by page', async () => {
    const { page, errors } = await open('?refresh=600');
    const box = page.getByLabel('Find a user');
    await box.fill('timeline');
    const found = await api<{ users: { user_id: string }[] }>('/users?prefix=timeline&limit=10');
    expect(found.users.map((u) => u.user_id)).toEqual([TIMELINE_USER]);
    await page.waitForFunction(
      () => document.querySelectorAll('#user-suggestions option').length > 0,
    );
    expect(
      await page
        .locator('#user-suggestions option')
        .evaluateAll((nodes) => nodes.map((n) => (n as HTMLOptionElement).value)),
    ).toEqual([TIMELINE_USER]);
    await box.fill(TIMELINE_USER);
    await page.getByRole('button', { name: 'Open' }).click();
    await urlAfter(page, (q) => q.get('user') === TIMELINE_USER);
    await page.waitForSelector('#user-profile:not([hidden])');
    expect(await page.locator('#panels').isHidden()).toBe(true);

    const profile = await api<{
      first_seen_at: string;
      last_seen_at: string;
      events: number;
      event_types: { event_type: string; count: number }[];
    }>(`/users/${TIMELINE_USER}`);
    expect(await page.getAttribute('#user-first', 'datetime')).toBe(profile.first_seen_at);
    expect(await page.getAttribute('#user-last', 'datetime')).toBe(profile.last_seen_at);
    expect(await page.textContent('#user-events')).toBe(formatCount(TIMELINE_EVENTS));
    expect(await rows(page, '#user-types tbody tr')).toEqual(
      profile.event_types.map((t) => [t.event_type, formatCount(t.count)]),
    );

    // The API's pages, their properties exact (every digit of the big numbers).
    const pages: {
      event_id: string;
      occurred_at: string;
      event_type: string;
      properties: string;
    }[][] = [];
    let before: string | null = null;
    do {
      const response = await server.app.inject(
        `/users/${TIMELINE_USER}/events?limit=50${before ? `&before=${before}` : ''}`,
      );
      const answer = parseLossless(response.body) as {
        events: {
          event_id: string;
          occurred_at: string;
          event_type: string;
          properties: unknown;
        }[];
        next_cursor: string | null;
      };
      pages.push(
        answer.events.map((e) => ({
          event_id: e.event_id,
          occurred_at: e.occurred_at,
          event_type: e.event_type,
          properties: stringifyLossless(e.properties) ?? '',
        })),
      );
      before = answer.next_cursor;
    } while (before);
    expect(pages.map((p) => p.length)).toEqual([50, 50, 20]);
    expect(pages[0]?.[0]?.properties).toBe(
      `{"n":0,"big":90071992547409930,"tag":"t0","price":1.5}`,
    );
    const timeline = () =>
      page.locator('#timeline li').evaluateAll((items) =>
        items.map((li) => ({
          event_id: (li as HTMLElement).dataset.eventId,
          occurred_at: li.querySelector('time')?.getAttribute('datetime'),
          event_type: li.querySelector('strong')?.textContent,
          properties: li.querySelector('code')?.textContent,
        })),
      );
    expect(await timeline()).toEqual(pages[0]);
    const more = page.getByRole('button', { name: 'Load more' });
    await more.click();
    await page.waitForFunction(() => document.querySelectorAll('#timeline li').length === 100);
    expect(await timeline()).toEqual([...(pages[0] ?? []), ...(pages[1] ?? [])]);
    await more.click();
    await page.waitForFunction(() => document.querySelectorAll('#timeline li').length === 120);
    expect(await timeline()).toEqual(pages.flat());
    expect(await more.isHidden()).toBe(true);
    expect(await page.textContent('#timeline-note')).toBe('All 120 events shown.');

    // Back: the dashboard again.
    await page.goBack();
    await urlAfter(page, (q) => q.get('user') === null);
    await page.waitForSelector('#panels:not([hidden])');
    expect(await page.locator('#user-page').isHidden()).toBe(true);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('is drawn without errors (screenshots in docs/ with UPDATE_SCREENSHOTS=1)', async () => {
    const dir = process.env.UPDATE_SCREENSHOTS
      ? path.resolve('docs')
      : path.join(tmpdir(), 'dashboard-screenshots');
    await mkdir(dir, { recursive: true });
    const views = {
      'dashboard-explore.png':
        '?where=plan:pro&breakdown=platform&steps=signup,activate,purchase&step=2&step_by=platform&refresh=600',
      'dashboard-user.png': `?user=${TIMELINE_USER}&refresh=600`,
    };
    for (const [file, search] of Object.entries(views)) {
      const { page, errors } = await open(search);
      await page.waitForSelector(
        file === 'dashboard-user.png' ? '#timeline li' : '#funnel-detail:not([hidden])',
      );
      await page.screenshot({ path: path.join(dir, file), fullPage: true });
      expect(errors).toEqual([]);
      await page.context().close();
    }
  });

  it('says so when there is nothing to show', async () => {
    const { page } = await open('?user=nobody-at-all&refresh=600');
    await page.waitForSelector('#user-page .panel-error:not([hidden])');
    expect(await page.textContent('#user-page .panel-error')).toBe(
      'No user “nobody-at-all” in this project.',
    );
    await page.context().close();

    const funnel = await open('?steps=purchase,signup&window=1h&where=plan:nope&refresh=600');
    expect(await funnel.page.textContent('#funnel-note')).toBe(
      'Nobody did “purchase” in this range.',
    );
    expect(await funnel.page.textContent('#top-empty')).toBe(
      'No events match these filters in this range.',
    );
    await funnel.page.context().close();
  });
});
