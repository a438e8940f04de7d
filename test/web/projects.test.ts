/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The page.evaluate callbacks run in the browser.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireProject } from '../../src/projects/repository.js';
import { formatDay, parseDay, today } from '../../src/stats/dates.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { event } from '../helpers/events.js';
import { newKey } from '../helpers/ingest-requests.js';
import { browserTestsEnabled, launchChromium } from './browser.js';
import { seedEvents, startServer, type TestServer } from './server.js';

const count = new Intl.NumberFormat('en-US');
const fmt = (n: number) => count.format(n);
const addDays = (day: string, n: number) => formatDay((parseDay(day) as number) + n);

interface ActiveUsersDay {
  date: string;
  dau: number;
  wau: number;
  mau: number;
}
interface TopEvent {
  event_type: string;
  count: number;
  unique_users: number;
}
interface RetentionMatrix {
  period: string;
  cohorts: { start_date: string; size: number; counts: number[] }[];
}

/**
 * Projects on the page (issue 15): the picker, the view in the URL (open, change, back,
 * reload), and a key that shows its own project's numbers only.
 */
describe.runIf(browserTestsEnabled)(
  'projects and the URL on the dashboard',
  { timeout: 90_000 },
  () => {
    let browser: Browser;
    let database: TestDatabase;
    let server: TestServer;

    beforeAll(async () => {
      [browser, database] = await Promise.all([launchChromium(), createTestDatabase()]);
      server = await startServer(database);
      for (const [slug, name, time_zones] of [
        ['web', 'Web app', ['Europe/Kyiv', 'America/New_York']],
        ['mobile', 'mobile', ['Asia/Tokyo']],
      ] as const) {
        const created = await server.app.inject({
          method: 'POST',
          url: '/projects',
          payload: { slug, name, time_zones },
        });
        expect(created.statusCode, created.body).toBe(201);
      }
      // Two different data sets, each with a type of its own, so a leak would show.
      await seedEvents(server.app, { rows: 2000, users: 400, days: 40, seed: 21 });
      await seedEvents(server.app, { rows: 1500, users: 300, days: 40, seed: 22, project: 'web' });
      for (const [project, type] of [
        ['default', 'only_in_default'],
        ['web', 'only_in_web'],
      ] as const) {
        const posted = await server.app.inject({
          method: 'POST',
          url: '/events',
          headers: { 'x-project': project },
          payload: [event({ occurred_at: new Date().toISOString(), event_type: type })],
        });
        expect(posted.statusCode).toBe(202);
      }
    });
    afterAll(async () => {
      await browser?.close();
      await server?.close();
      await database?.close();
    });

    /** An API answer for a project, as the page should show it. */
    async function api<T>(url: string, project: string, target = server, key?: string): Promise<T> {
      const response = await target.app.inject({
        url,
        headers: { 'x-project': project, ...(key ? { authorization: `Bearer ${key}` } : {}) },
      });
      expect(response.statusCode, url).toBe(200);
      return response.json() as T;
    }

    async function open(
      url: string,
      setUp: (context: BrowserContext) => Promise<void> = async () => {},
    ): Promise<{ page: Page; errors: string[]; stats: { url: URL; project?: string }[] }> {
      const context = await browser.newContext({
        viewport: { width: 1280, height: 1000 },
        locale: 'en-US',
        timezoneId: 'UTC',
      });
      await setUp(context);
      const page = await context.newPage();
      const errors: string[] = [];
      const stats: { url: URL; project?: string }[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(message.text());
      });
      page.on('pageerror', (error) => errors.push(error.message));
      page.on('request', (request) => {
        const parsed = new URL(request.url());
        if (parsed.pathname.startsWith('/stats/')) {
          stats.push({ url: parsed, project: request.headers()['x-project'] });
        }
      });
      await page.goto(url);
      await loaded(page);
      return { page, errors, stats };
    }

    async function loaded(page: Page): Promise<void> {
      await page.waitForSelector('main[aria-busy="false"]', { timeout: 20_000 });
    }

    /** Waits for the view of `search` (the URL) to be requested and drawn. */
    async function shows(page: Page, check: (query: URLSearchParams) => boolean): Promise<void> {
      await page.waitForFunction(
        () => document.querySelector('main')?.getAttribute('aria-busy') === 'false',
      );
      expect(check(new URL(page.url()).searchParams), page.url()).toBe(true);
    }

    async function controls(page: Page) {
      return page.evaluate(() => {
        const value = (id: string) => (document.getElementById(id) as HTMLInputElement).value;
        return {
          project: value('project'),
          range: value('range'),
          from: value('from'),
          to: value('to'),
          tz: value('tz'),
          period: document.querySelector<HTMLInputElement>('input[name="period"]:checked')?.value,
        };
      });
    }

    /** The numbers on the page: active users, top events and the retention cohorts. */
    async function numbers(page: Page) {
      return page.evaluate(() => {
        const rows = (selector: string) =>
          [...document.querySelectorAll(selector)].map((tr) =>
            [...tr.children].map((c) => c.textContent ?? ''),
          );
        return {
          active: rows('#active-table tbody tr'),
          top: [...document.querySelectorAll('#top-table tbody tr')].map((tr) => [
            tr.querySelector('th')?.textContent ?? '',
            ...[...tr.querySelectorAll('td.num')].map((td) => td.textContent ?? ''),
          ]),
          cohorts: [...document.querySelectorAll('#retention-table tbody tr')].map((tr) => [
            tr.querySelector('th')?.textContent ?? '',
            ...[...tr.querySelectorAll('td.heat')].map(
              (td) => (td as HTMLElement).dataset.count ?? '',
            ),
          ]),
        };
      });
    }

    /** What the page must show for a view, from the API. */
    async function expected(
      project: string,
      range: string,
      period: 'day' | 'week',
      target = server,
      key?: string,
    ) {
      const active = await api<ActiveUsersDay[]>(
        `/stats/active-users?${range}`,
        project,
        target,
        key,
      );
      const top = await api<TopEvent[]>(
        `/stats/top-events?${range}&limit=10`,
        project,
        target,
        key,
      );
      const matrix = await api<RetentionMatrix>(
        `/stats/retention-matrix?${range}&windows=7&period=${period}`,
        project,
        target,
        key,
      );
      return {
        active: active.map((d) => [d.date, fmt(d.dau), fmt(d.wau), fmt(d.mau)]),
        top: top.map((e) => [e.event_type, fmt(e.count), fmt(e.unique_users)]),
        cohorts: matrix.cohorts.map((c) => [
          c.start_date,
          ...Array.from({ length: 8 }, (_, n) =>
            c.counts[n] === undefined ? '' : String(c.counts[n]),
          ),
        ]),
      };
    }

    it('lists the projects, starts in the main zone of the one picked, its zones first', async () => {
      const { page, errors, stats } = await open(`${server.url}/?refresh=600`);
      const options = await page
        .locator('#project option')
        .evaluateAll((nodes) => nodes.map((n) => [(n as HTMLOptionElement).value, n.textContent]));
      expect(options).toEqual([
        ['default', 'Default (default)'],
        ['web', 'Web app (web)'],
        ['mobile', 'mobile'],
      ]);
      expect(await controls(page)).toMatchObject({ project: 'default', tz: 'UTC' });
      expect(new Set(stats.map((s) => s.project))).toEqual(new Set(['default']));
      expect(page.url()).toBe(`${server.url}/?refresh=600`);

      stats.length = 0;
      await page.getByLabel('Project', { exact: true }).selectOption('web');
      await shows(page, (q) => q.get('project') === 'web');
      expect(page.url()).toBe(`${server.url}/?refresh=600&project=web`);
      // Web's main zone, and its zones listed first.
      expect(await controls(page)).toMatchObject({ project: 'web', tz: 'Europe/Kyiv' });
      const groups = await page
        .locator('#tz optgroup')
        .evaluateAll((nodes) => nodes.map((g) => [g.getAttribute('label'), g.children.length]));
      expect(groups[0]).toEqual(['This project’s zones', 3]);
      expect(
        await page
          .locator('#tz optgroup:first-child option')
          .evaluateAll((nodes) => nodes.map((n) => (n as HTMLOptionElement).value)),
      ).toEqual(['Europe/Kyiv', 'America/New_York', 'UTC']);
      // Every call of the page names the project, and the numbers are the project's.
      expect(stats.length).toBeGreaterThanOrEqual(5);
      for (const s of stats) expect(s.project, s.url.pathname).toBe('web');
      const to = formatDay(today('Europe/Kyiv'));
      const range = `from=${addDays(to, -29)}&to=${to}&tz=Europe/Kyiv`;
      expect(await numbers(page)).toEqual(await expected('web', range, 'day'));
      expect((await numbers(page)).top.map((row) => row[0])).toContain('only_in_web');
      const overview = await api<{ events_today: number }>('/stats/overview?tz=Europe/Kyiv', 'web');
      expect(await page.textContent('#events-today')).toBe(fmt(overview.events_today));
      expect(errors).toEqual([]);
      await page.context().close();
    });

    it('opens the view its URL names, pushes each change, walks back, and keeps it on reload', async () => {
      const to = formatDay(today('Asia/Tokyo'));
      const from = addDays(to, -20);
      const until = addDays(to, -3);
      const first = `project=web&from=${from}&to=${until}&tz=Asia/Tokyo&period=week`;
      const { page, errors, stats } = await open(`${server.url}/?${first}`);
      expect(await controls(page)).toEqual({
        project: 'web',
        range: 'custom',
        from,
        to: until,
        tz: 'Asia/Tokyo',
        period: 'week',
      });
      const range = `from=${from}&to=${until}&tz=Asia/Tokyo`;
      const active = stats.find((s) => s.url.pathname === '/stats/active-users');
      expect(Object.fromEntries(active?.url.searchParams ?? [])).toEqual({
        from,
        to: until,
        tz: 'Asia/Tokyo',
      });
      const firstNumbers = await expected('web', range, 'week');
      expect(await numbers(page)).toEqual(firstNumbers);

      // Changes: each one is a new URL.
      await page.getByRole('radio', { name: 'Day' }).check();
      await shows(page, (q) => q.get('period') === null);
      expect(page.url()).toBe(`${server.url}/?project=web&from=${from}&to=${until}&tz=Asia/Tokyo`);
      const secondNumbers = await expected('web', range, 'day');
      expect(await numbers(page)).toEqual(secondNumbers);

      await page.getByLabel('Date range').selectOption('7');
      await shows(page, (q) => q.get('range') === '7');
      expect(page.url()).toBe(`${server.url}/?project=web&range=7&tz=Asia/Tokyo`);
      const lastWeek = `from=${addDays(to, -6)}&to=${to}&tz=Asia/Tokyo`;
      expect(await numbers(page)).toEqual(await expected('web', lastWeek, 'day'));

      await page.getByLabel('Project', { exact: true }).selectOption('default');
      await shows(page, (q) => q.get('project') === 'default');
      // Another project: its own main zone, the range kept.
      expect(page.url()).toBe(`${server.url}/?project=default&range=7`);
      expect(await controls(page)).toMatchObject({ project: 'default', range: '7', tz: 'UTC' });

      // Back walks through the views, controls and numbers alike.
      await page.goBack();
      await shows(page, (q) => q.get('project') === 'web' && q.get('range') === '7');
      await loaded(page);
      expect(await controls(page)).toMatchObject({ project: 'web', range: '7', tz: 'Asia/Tokyo' });
      expect(await numbers(page)).toEqual(await expected('web', lastWeek, 'day'));
      await page.goBack();
      await shows(page, (q) => q.get('from') === from && q.get('period') === null);
      await page.waitForFunction(
        () => (document.getElementById('range') as HTMLSelectElement).value === 'custom',
      );
      await loaded(page);
      expect(await numbers(page)).toEqual(secondNumbers);
      await page.goBack();
      await shows(page, (q) => q.get('period') === 'week');
      await page.waitForFunction(
        () => document.querySelector<HTMLInputElement>('input[value="week"]')?.checked === true,
      );
      await loaded(page);
      expect(await controls(page)).toMatchObject({ period: 'week', from, to: until });
      expect(await numbers(page)).toEqual(firstNumbers);
      await page.goForward();
      await shows(page, (q) => q.get('period') === null);
      await page.waitForFunction(
        () => document.querySelector<HTMLInputElement>('input[value="day"]')?.checked === true,
      );

      // A reload keeps the view; a copied link in a new browser shows the same numbers.
      await page.reload();
      await loaded(page);
      expect(await controls(page)).toMatchObject({
        project: 'web',
        range: 'custom',
        period: 'day',
      });
      expect(await numbers(page)).toEqual(secondNumbers);
      const copied = await open(page.url());
      expect(await numbers(copied.page)).toEqual(secondNumbers);
      await copied.page.context().close();
      expect(errors).toEqual([]);
      await page.context().close();
    });

    it('says so when the URL names what it cannot show, and shows the defaults', async () => {
      const { page } = await open(`${server.url}/?project=nope&tz=Mars/Olympus&refresh=600`);
      expect(await controls(page)).toMatchObject({ project: 'default', tz: 'UTC' });
      const notice = (await page.textContent('#notice')) ?? '';
      expect(notice).toContain('Project “nope”');
      expect(notice).toContain('Unknown time zone “Mars/Olympus”');
      await page.context().close();
    });

    describe('with AUTH=required', () => {
      let secured: TestServer;
      let webKey: string;
      beforeAll(async () => {
        secured = await startServer(database, { auth: 'required' });
        const web = await requireProject(database.db, 'web');
        webKey = await newKey(database.db, 'web-dashboard', 'read', web.id);
      });
      afterAll(async () => {
        await secured?.close();
      });

      it('a read key of one project never shows another project’s numbers', async () => {
        const withKey = async (context: BrowserContext) => {
          await context.addInitScript((key) => {
            sessionStorage.setItem('events-analytics.read-key', key);
          }, webKey);
        };
        // The link names another project: the key decides, and the page says so.
        const { page, errors, stats } = await open(
          `${secured.url}/?project=default&refresh=600`,
          withKey,
        );
        expect(
          await page
            .locator('#project option')
            .evaluateAll((nodes) => nodes.map((n) => (n as HTMLOptionElement).value)),
        ).toEqual(['web']);
        expect(await page.textContent('#notice')).toContain(
          'Project “default” is not one this key can show',
        );
        expect(stats.length).toBeGreaterThanOrEqual(5);
        for (const s of stats) expect(s.project, s.url.pathname).toBe('web');
        const to = formatDay(today('Europe/Kyiv'));
        const range = `from=${addDays(to, -29)}&to=${to}&tz=Europe/Kyiv`;
        const shown = await numbers(page);
        expect(shown).toEqual(await expected('web', range, 'day', secured, webKey));
        const types = shown.top.map((row) => row[0]);
        expect(types).toContain('only_in_web');
        expect(types).not.toContain('only_in_default');
        const other = await expected('default', range, 'day');
        expect(shown.active).not.toEqual(other.active);
        // And the server refuses the other project to this key, whatever a page sends.
        const refused = await secured.app.inject({
          url: '/stats/overview',
          headers: { authorization: `Bearer ${webKey}`, 'x-project': 'default' },
        });
        expect(refused.statusCode).toBe(404);
        expect(errors).toEqual([]);
        await page.context().close();
      });
    });
  },
);
