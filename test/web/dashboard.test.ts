/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// The page.evaluate callbacks run in the browser.
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser, BrowserContextOptions, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKysely, createPool } from '../../src/db/pool.js';
import { formatDay, parseDay, today } from '../../src/stats/dates.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { event } from '../helpers/events.js';
import { newKey } from '../helpers/ingest-requests.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { browserTestsEnabled, launchChromium } from './browser.js';
import { seedEvents, startServer, type TestServer } from './server.js';

/** Events in the generated data set. */
const SEEDED = 6000;
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
  cohorts: { start_date: string; size: number; counts: number[]; rates: number[] }[];
}

// Generous per-test time: a browser on a shared 2-core machine is slow when others run tests too.
describe.runIf(browserTestsEnabled)('the dashboard in Chromium', { timeout: 60_000 }, () => {
  let browser: Browser;
  let database: TestDatabase;
  let server: TestServer;

  beforeAll(async () => {
    [browser, database] = await Promise.all([launchChromium(), createTestDatabase()]);
    server = await startServer(database);
    await seedEvents(server.app, { rows: SEEDED, users: 1000, days: 45, seed: 11 });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await database?.close();
  });

  async function api<T>(url: string): Promise<T> {
    const response = await server.app.inject(url);
    expect(response.statusCode, url).toBe(200);
    return response.json() as T;
  }

  /** A page in a fresh context (UTC, en-US, light unless asked), with its console errors. */
  async function open(
    search = '',
    options: BrowserContextOptions = {},
    base = server.url,
  ): Promise<{ page: Page; errors: string[]; requests: URL[] }> {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 1000 },
      locale: 'en-US',
      timezoneId: 'UTC',
      colorScheme: 'light',
      ...options,
    });
    const page = await context.newPage();
    const errors: string[] = [];
    const requests: URL[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('request', (request) => requests.push(new URL(request.url())));
    await page.goto(`${base}/${search}`);
    await loaded(page);
    return { page, errors, requests };
  }

  /** Waits until the refresh in flight (if any) has been drawn. */
  async function loaded(page: Page): Promise<void> {
    await page.waitForSelector('main[aria-busy="false"]', { timeout: 20_000 });
  }

  const texts = (page: Page, selector: string) =>
    page.locator(selector).evaluateAll((nodes) => nodes.map((n) => n.textContent?.trim() ?? ''));

  async function expectActiveUsers(page: Page, expected: ActiveUsersDay[]) {
    const rows = await page
      .locator('#active-table tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
    expect(rows).toEqual(expected.map((d) => [d.date, fmt(d.dau), fmt(d.wau), fmt(d.mau)]));
  }

  async function expectTopEvents(page: Page, expected: TopEvent[]) {
    const rows = await page
      .locator('#top-table tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) => [
          tr.querySelector('th')?.textContent,
          ...[...tr.querySelectorAll('td.num')].map((td) => td.textContent),
        ]),
      );
    expect(rows).toEqual(expected.map((e) => [e.event_type, fmt(e.count), fmt(e.unique_users)]));
  }

  async function expectRetention(page: Page, expected: RetentionMatrix, windows = 7) {
    const rows = await page.locator('#retention-table tbody tr').evaluateAll((trs) =>
      trs.map((tr) => ({
        start: tr.querySelector('th')?.textContent,
        size: tr.querySelector('td.num')?.textContent,
        cells: [...tr.querySelectorAll('td.heat')].map((td) =>
          td.classList.contains('pending')
            ? null
            : {
                text: td.textContent,
                count: Number((td as HTMLElement).dataset.count),
                rate: Number((td as HTMLElement).dataset.rate),
                title: td.getAttribute('title'),
              },
        ),
      })),
    );
    expect(rows).toEqual(
      expected.cohorts.map((c) => ({
        start: c.start_date,
        size: fmt(c.size),
        cells: Array.from({ length: windows + 1 }, (_, n) => {
          const rate = c.rates[n];
          const n_count = c.counts[n];
          if (rate === undefined || n_count === undefined) return null;
          return {
            text: c.size === 0 ? '–' : `${Math.round(rate * 100)}%`,
            count: n_count,
            rate,
            title: expect.stringContaining(`${fmt(n_count)} of ${fmt(c.size)} users`),
          };
        }),
      })),
    );
  }

  it('loads with no console errors, draws the charts, and shows exactly the API numbers', async () => {
    const { page, errors, requests } = await open('?refresh=600');
    const to = formatDay(today('UTC'));
    const from = addDays(to, -29);

    const activeRequest = requests.find((u) => u.pathname === '/stats/active-users');
    expect(Object.fromEntries(activeRequest?.searchParams ?? [])).toEqual({ from, to, tz: 'UTC' });

    const overview = await api<{ events_today: number; active_users_today: number }>(
      '/stats/overview?tz=UTC',
    );
    expect(overview.events_today).toBeGreaterThan(0);
    expect(await page.textContent('#events-today')).toBe(fmt(overview.events_today));
    expect(await page.textContent('#active-today')).toBe(fmt(overview.active_users_today));
    // The data set was posted moments ago, all of it within the last minute.
    const live = await api<{ events_last_minute: number; events_per_second: number }>(
      '/stats/live',
    );
    expect(live.events_last_minute).toBe(SEEDED);
    expect(await page.textContent('#events-last-minute')).toBe(fmt(SEEDED));
    expect(await page.textContent('#events-per-second')).toBe(String(live.events_per_second));

    const active = await api<ActiveUsersDay[]>(`/stats/active-users?from=${from}&to=${to}`);
    expect(active).toHaveLength(30);
    await expectActiveUsers(page, active);
    await expectTopEvents(page, await api(`/stats/top-events?from=${from}&to=${to}&limit=10`));
    const matrix = await api<RetentionMatrix>(
      `/stats/retention-matrix?from=${from}&to=${to}&windows=7&period=day`,
    );
    expect(matrix.cohorts).toHaveLength(30);
    await expectRetention(page, matrix);

    // The line chart is drawn: the canvas holds pixels of each series' colour.
    const seriesPixels = await page.evaluate(() => {
      const canvas = document.querySelector<HTMLCanvasElement>('#active-chart canvas');
      const pixels = canvas?.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height);
      if (!pixels) return [];
      const style = getComputedStyle(document.documentElement);
      return ['--series-1', '--series-2', '--series-3'].map((name) => {
        const hex = style.getPropertyValue(name).trim();
        const [r, g, b] = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
        let matches = 0;
        for (let i = 0; i < pixels.data.length; i += 4) {
          const d = pixels.data;
          if (
            d[i + 3] === 255 &&
            Math.abs((d[i] ?? 0) - (r ?? 0)) < 8 &&
            Math.abs((d[i + 1] ?? 0) - (g ?? 0)) < 8 &&
            Math.abs((d[i + 2] ?? 0) - (b ?? 0)) < 8
          )
            matches++;
        }
        return matches;
      });
    });
    expect(seriesPixels).toHaveLength(3);
    for (const pixels of seriesPixels) expect(pixels).toBeGreaterThan(200);
    // Bars and heat cells are scaled and coloured from the numbers.
    const barWidths = await page
      .locator('#top-table .bar')
      .evaluateAll((bars) => bars.map((b) => (b as HTMLElement).style.width));
    expect(barWidths[0]).toBe('100%');
    expect(await page.locator('#empty').isHidden()).toBe(true);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('is readable in light and dark mode (screenshots in docs/ with UPDATE_SCREENSHOTS=1)', async () => {
    const dir = process.env.UPDATE_SCREENSHOTS
      ? path.resolve('docs')
      : path.join(tmpdir(), 'dashboard-screenshots');
    await mkdir(dir, { recursive: true });
    const contrast: Record<string, number> = {};
    for (const colorScheme of ['light', 'dark'] as const) {
      const { page, errors } = await open('', {
        colorScheme,
        viewport: { width: 1280, height: 900 },
      });
      // WCAG contrast of body text and muted text on the panels.
      contrast[colorScheme] = await page.evaluate(() => {
        const style = getComputedStyle(document.documentElement);
        const luminance = (hex: string) => {
          const [r, g, b] = [1, 3, 5].map((i) => {
            const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
            return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
          });
          return 0.2126 * (r ?? 0) + 0.7152 * (g ?? 0) + 0.0722 * (b ?? 0);
        };
        const ratio = (a: string, b: string) => {
          const [x, y] = [
            luminance(style.getPropertyValue(a).trim()),
            luminance(style.getPropertyValue(b).trim()),
          ];
          return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
        };
        return Math.min(ratio('--text', '--panel'), ratio('--muted', '--panel'));
      });
      await page.screenshot({
        path: path.join(dir, `dashboard-${colorScheme}.png`),
        fullPage: true,
      });
      expect(errors).toEqual([]);
      await page.context().close();
    }
    expect(contrast.light).toBeGreaterThanOrEqual(4.5);
    expect(contrast.dark).toBeGreaterThanOrEqual(4.5);
  });

  it('changes the requests and the view with the range, the zone and the period', async () => {
    const { page, errors, requests } = await open('?refresh=600', {
      timezoneId: 'America/Sao_Paulo',
    });
    // The zone defaults to the project's main zone (UTC here), not the browser's.
    expect(await page.inputValue('#tz')).toBe('UTC');
    await page.getByLabel('Time zone').selectOption('America/Sao_Paulo');
    await loaded(page);
    let to = formatDay(today('America/Sao_Paulo'));

    const activeUsersRequest = (check: (params: URLSearchParams) => boolean) =>
      page.waitForRequest((request) => {
        const url = new URL(request.url());
        return url.pathname === '/stats/active-users' && check(url.searchParams);
      });

    // Last 7 days.
    let request = activeUsersRequest((p) => p.get('from') === addDays(to, -6));
    await page.getByLabel('Date range').selectOption('7');
    await request;
    await loaded(page);
    await expectActiveUsers(
      page,
      await api(`/stats/active-users?from=${addDays(to, -6)}&to=${to}&tz=America/Sao_Paulo`),
    );

    // Another zone: every request carries it, and the numbers are that zone's.
    to = formatDay(today('Asia/Tokyo'));
    const before = requests.length;
    request = activeUsersRequest((p) => p.get('tz') === 'Asia/Tokyo');
    await page.getByLabel('Time zone').selectOption('Asia/Tokyo');
    expect(Object.fromEntries(new URL((await request).url()).searchParams)).toEqual({
      from: addDays(to, -6),
      to,
      tz: 'Asia/Tokyo',
    });
    await loaded(page);
    const zoned = requests
      .slice(before)
      .filter((u) => u.pathname.startsWith('/stats/') && u.pathname !== '/stats/live');
    expect(new Set(zoned.map((u) => u.pathname))).toEqual(
      new Set([
        '/stats/overview',
        '/stats/active-users',
        '/stats/top-events',
        '/stats/retention-matrix',
        '/stats/properties', // what the range offers to filter on, once per range
      ]),
    );
    for (const url of zoned) expect(url.searchParams.get('tz'), url.pathname).toBe('Asia/Tokyo');
    const range = `from=${addDays(to, -6)}&to=${to}&tz=Asia/Tokyo`;
    await expectActiveUsers(page, await api(`/stats/active-users?${range}`));
    await expectTopEvents(page, await api(`/stats/top-events?${range}&limit=10`));
    const overview = await api<{ events_today: number }>('/stats/overview?tz=Asia/Tokyo');
    expect(await page.textContent('#events-today')).toBe(fmt(overview.events_today));

    // Cohorts by week.
    const weekly = page.waitForRequest(
      (r) => new URL(r.url()).searchParams.get('period') === 'week',
    );
    await page.getByRole('radio', { name: 'Week' }).check();
    await weekly;
    await loaded(page);
    expect((await texts(page, '#retention-table thead th')).slice(2, 4)).toEqual([
      'Week 0',
      'Week 1',
    ]);
    const weeks = await api<RetentionMatrix>(
      `/stats/retention-matrix?${range}&windows=7&period=week`,
    );
    expect(weeks.period).toBe('week');
    await expectRetention(page, weeks);

    // A custom range.
    const from = addDays(to, -40);
    const until = addDays(to, -20);
    await page.getByLabel('Date range').selectOption('custom');
    await loaded(page);
    request = activeUsersRequest((p) => p.get('from') === from && p.get('to') === until);
    await page.getByLabel('From', { exact: true }).fill(from);
    await page.getByLabel('To', { exact: true }).fill(until);
    await request;
    await loaded(page);
    await expectActiveUsers(
      page,
      await api(`/stats/active-users?from=${from}&to=${until}&tz=Asia/Tokyo`),
    );
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('shows a new event within one refresh, without a reload', async () => {
    // 5 s: the shortest interval the page takes.
    const { page } = await open('?refresh=5');
    expect(await page.textContent('#refresh-seconds')).toBe('5');
    const before = await api<{ events_today: number }>('/stats/overview?tz=UTC');
    expect(await page.textContent('#events-today')).toBe(fmt(before.events_today));
    const posted = await server.app.inject({
      method: 'POST',
      url: '/events',
      payload: [event({ occurred_at: new Date().toISOString(), event_type: 'dashboard_probe' })],
    });
    expect(posted.json()).toEqual({ accepted: 1, skipped: 0 });
    const shownAt = Date.now();
    await page.waitForFunction(
      (expected) => document.getElementById('events-today')?.textContent === expected,
      fmt(before.events_today + 1),
      { timeout: 10_000 },
    );
    // One refresh interval (5 s) plus the requests' own time.
    expect(Date.now() - shownAt).toBeLessThan(10_000);
    expect(await texts(page, '#top-table tbody th')).toContain('dashboard_probe');
    await page.context().close();
  });

  it('has labelled controls in a sensible keyboard order', async () => {
    const { page } = await open('?refresh=600');
    for (const label of [
      'Project',
      'Date range',
      'Time zone',
      'Find a user',
      'Filter',
      'equals',
      'Break down by',
      'Add a step',
      'Completed within',
    ]) {
      expect(await page.getByLabel(label, { exact: true }).count(), label).toBe(1);
    }
    for (const name of ['Day', 'Week']) {
      expect(await page.getByRole('radio', { name }).count(), name).toBe(1);
    }
    // Tab follows the page from top to bottom: controls, the user box, filters and
    // breakdown, the chart's data table, the retention switch, the funnel's pickers.
    const order: string[] = [];
    for (let i = 0; i < 14; i++) {
      await page.keyboard.press('Tab');
      order.push(
        await page.evaluate(() => {
          const active = document.activeElement;
          return active?.id || active?.getAttribute('name') || active?.textContent?.trim() || '';
        }),
      );
    }
    expect(order).toEqual([
      'project',
      'range',
      'tz',
      'user-query',
      'Open',
      'filter-key',
      'filter-value',
      'Add filter',
      'breakdown',
      'Show as a table',
      'period',
      'retention-scroll', // a scrolling box: Chromium lets the keyboard scroll it
      'funnel-add',
      'funnel-window',
    ]);
    // The range can be changed from the keyboard alone.
    await page.focus('#range');
    await page.keyboard.press('ArrowUp');
    await loaded(page);
    expect(await page.inputValue('#range')).toBe('7');
    await page.context().close();
  });

  describe('a fresh database', () => {
    let empty: TestDatabase;
    let emptyServer: TestServer;
    beforeAll(async () => {
      empty = await createTestDatabase();
      emptyServer = await startServer(empty);
    });
    afterAll(async () => {
      await emptyServer?.close();
      await empty?.close();
    });

    it('says how to send the first event, and the curl line shown works', async () => {
      const { page, errors } = await open('?refresh=5', {}, emptyServer.url);
      expect(await page.locator('#empty').isVisible()).toBe(true);
      expect(await page.locator('#panels').isHidden()).toBe(true);
      const curl = (await page.textContent('#curl')) ?? '';
      expect(curl).toContain(`curl -X POST ${emptyServer.url}/events`);
      // Run the very command the page shows.
      const { stdout } = await promisify(execFile)('sh', ['-c', curl]);
      expect(JSON.parse(stdout)).toEqual({ accepted: 1, skipped: 0 });
      await page.waitForSelector('#empty', { state: 'hidden', timeout: 10_000 });
      await page.waitForFunction(
        () => document.getElementById('events-today')?.textContent === '1',
        undefined,
        { timeout: 10_000 },
      );
      expect(await texts(page, '#top-table tbody th')).toEqual(['signup']);
      expect(errors).toEqual([]);
      await page.context().close();
    });
  });

  describe('when the database goes away', () => {
    let proxy: TcpProxy;
    let proxied: TestServer;
    let closePool: () => Promise<void>;
    beforeAll(async () => {
      const target = new URL(database.url);
      proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
      await proxy.start();
      target.hostname = '127.0.0.1';
      target.port = String(proxy.port);
      const pool = createPool(target.toString(), { connectionTimeoutMillis: 1000 });
      const db = createKysely(pool);
      closePool = () => db.destroy();
      proxied = await startServer({ db, pool });
    });
    afterAll(async () => {
      await proxied?.close();
      await closePool?.();
      await proxy?.stop();
    });

    it('says so (503), keeps the last numbers, and recovers by itself', async () => {
      const { page } = await open('?refresh=5', {}, proxied.url);
      const shown = await page.textContent('#events-today');
      expect(await page.locator('#banner').isHidden()).toBe(true);
      await proxy.stop();
      await page.waitForSelector('#banner', { state: 'visible', timeout: 15_000 });
      expect(await page.textContent('#banner-text')).toContain('The database is unavailable');
      expect(await page.textContent('#events-today')).toBe(shown);
      expect(await page.locator('.panel-error:visible').count()).toBe(0);
      await proxy.start();
      await page.waitForSelector('#banner', { state: 'hidden', timeout: 15_000 });
      await page.context().close();
    });
  });

  describe('with AUTH=required', () => {
    let secured: TestServer;
    let readKey: string;
    let writeKey: string;
    beforeAll(async () => {
      secured = await startServer(database, { auth: 'required' });
      readKey = await newKey(database.db, 'dashboard-test-read', 'read');
      writeKey = await newKey(database.db, 'dashboard-test-write', 'write');
    });
    afterAll(async () => {
      await secured?.close();
    });

    it('asks for a read key once, keeps it for the session, and sends it with every request', async () => {
      const context = await browser.newContext({ locale: 'en-US', timezoneId: 'UTC' });
      const page = await context.newPage();
      const statsAuth: (string | undefined)[] = [];
      page.on('request', (request) => {
        if (new URL(request.url()).pathname.startsWith('/stats/')) {
          statsAuth.push(request.headers().authorization);
        }
      });
      const response = await page.goto(`${secured.url}/dashboard?refresh=5`);
      expect(response?.status()).toBe(200); // the page itself is public
      const dialog = page.locator('#key-dialog');
      await dialog.waitFor({ state: 'visible' });
      expect(await page.locator('#key-error').isHidden()).toBe(true);
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('key-input');

      // A wrong key, then a key without the read scope: asked again, saying why.
      await page.getByLabel('Read key', { exact: true }).fill('ea_not-a-key');
      await page.keyboard.press('Enter');
      await page.waitForSelector('#key-error:not([hidden])');
      expect(await page.textContent('#key-error')).toContain('That key was refused');
      await page.getByLabel('Read key', { exact: true }).fill(writeKey);
      await page.getByRole('button', { name: 'Use this key' }).click();
      await page.waitForFunction(() =>
        document.getElementById('key-error')?.textContent?.includes('read scope'),
      );

      await page.getByLabel('Read key', { exact: true }).fill(readKey);
      await page.getByRole('button', { name: 'Use this key' }).click();
      await dialog.waitFor({ state: 'hidden' });
      await loaded(page);
      const overview = await secured.app.inject({
        url: '/stats/overview?tz=UTC',
        headers: { authorization: `Bearer ${readKey}` },
      });
      expect(await page.textContent('#events-today')).toBe(fmt(overview.json().events_today));
      expect(await page.evaluate(() => sessionStorage.getItem('events-analytics.read-key'))).toBe(
        readKey,
      );

      // Refreshes and a reload in the same tab use the stored key without asking again.
      statsAuth.length = 0;
      await page.reload();
      await loaded(page);
      await page.waitForTimeout(5500); // at least one more refresh
      expect(await dialog.isHidden()).toBe(true);
      expect(statsAuth.length).toBeGreaterThanOrEqual(10);
      expect(new Set(statsAuth)).toEqual(new Set([`Bearer ${readKey}`]));
      await context.close();
    });

    it('after a cancel, does not nag on every refresh but offers the dialog again', async () => {
      const context = await browser.newContext({ locale: 'en-US', timezoneId: 'UTC' });
      const page = await context.newPage();
      await page.goto(`${secured.url}/?refresh=5`);
      await page.locator('#key-dialog').waitFor({ state: 'visible' });
      await page.keyboard.press('Escape');
      await page.waitForSelector('#banner', { state: 'visible' });
      await page.waitForTimeout(5500);
      expect(await page.locator('#key-dialog').isHidden()).toBe(true);
      await page.getByRole('button', { name: 'Enter a read key' }).click();
      await page.locator('#key-dialog').waitFor({ state: 'visible' });
      await context.close();
    });
  });
});
