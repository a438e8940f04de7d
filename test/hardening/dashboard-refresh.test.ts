import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { browserTestsEnabled, launchChromium } from '../web/browser.js';
import { startServer, type TestServer } from '../web/server.js';

/**
 * Issue 19, finding 5: `/?refresh=2147484` or `/?refresh=1e308` overflowed setTimeout and
 * the page polled continuously (235-315 /stats requests per 5 s per tab).
 */

describe.runIf(browserTestsEnabled)('?refresh= in Chromium (finding 5)', () => {
  let database: TestDatabase;
  let server: TestServer;
  let browser: Browser;
  beforeAll(async () => {
    database = await createTestDatabase();
    server = await startServer(database);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await database?.close();
  });

  it.each(['1e308', '2147484', '0.001'])(
    '?refresh=%s does not poll continuously',
    async (value) => {
      const browser = await launchChromium();
      /** /stats requests a page makes in its first 3 s. */
      const statsRequests = async (search: string) => {
        const page = await browser.newPage();
        let requests = 0;
        page.on('request', (r) => {
          if (new URL(r.url()).pathname.startsWith('/stats/')) requests++;
        });
        await page.goto(`${server.url}/${search}`);
        await page.waitForTimeout(3000);
        const shown = Number((await page.textContent('#refresh-seconds'))?.replace(/[^0-9.]/g, ''));
        await page.close();
        return { requests, shown };
      };
      try {
        // No refresh comes within 3 s: as many requests as a page that refreshes every 10
        // minutes, i.e. one load. Before: hundreds.
        const { requests: oneLoad } = await statsRequests('?refresh=600');
        const { requests, shown } = await statsRequests(`?refresh=${value}`);
        expect(requests).toBe(oneLoad);
        expect(shown).toBeGreaterThanOrEqual(5);
        expect(shown).toBeLessThanOrEqual(3600);
      } finally {
        await browser.close();
      }
    },
    30_000,
  );
});
