import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** Debian's chromium: Playwright's own browser download cannot work on this machine. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Browser tests run when chromium is installed, and always in CI (where a missing browser
 * must fail the run, not skip it: .ci/run installs it).
 */
export const browserTestsEnabled = existsSync(CHROMIUM) || Boolean(process.env.CI);
if (!browserTestsEnabled) {
  process.stderr.write(
    `Skipping the dashboard browser tests: no chromium at ${CHROMIUM} ` +
      '(apt-get install -y chromium, or set CHROMIUM_PATH).\n',
  );
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
