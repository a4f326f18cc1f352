/**
 * A headless Chromium for the web view's tests: Debian's `chromium` driven by playwright-core, a fresh
 * profile each time. Where either is missing the tests are skipped with the reason, unless
 * MRIMTAP_REQUIRE_CHROMIUM=1 (CI) makes that a failure.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { ROOT } from './cli.js';

export const CHROMIUM = '/usr/bin/chromium';
/** Screenshots and other artifacts of the browser tests (gitignored). */
export const ARTIFACTS = join(ROOT, 'test-results');

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Why the browser tests cannot run here, or undefined when they can. */
export async function chromiumUnavailable(): Promise<string | undefined> {
  let reason: string | undefined;
  if (!existsSync(CHROMIUM)) reason = `${CHROMIUM} is missing (apt-get install chromium)`;
  else {
    try {
      await import('playwright-core');
    } catch {
      reason = 'playwright-core is not installed (npm ci)';
    }
  }
  if (reason && process.env.MRIMTAP_REQUIRE_CHROMIUM === '1') throw new Error(`MRIMTAP_REQUIRE_CHROMIUM=1 but ${reason}`);
  return reason;
}

export interface Browser {
  context: BrowserContext;
  /** A new page whose script errors fail the test that reads `errors`. */
  page(): Promise<Page & { errors: string[] }>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'mrimtap-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1440, height: 900 },
    // Local times in the page and in the test process agree.
    timezoneId: Intl.DateTimeFormat().resolvedOptions().timeZone,
  });
  context.setDefaultTimeout(10_000);
  mkdirSync(ARTIFACTS, { recursive: true });
  return {
    context,
    async page() {
      const page = Object.assign(await context.newPage(), { errors: [] as string[] });
      page.on('pageerror', (e) => page.errors.push(e.message));
      page.on('console', (m) => m.type() === 'error' && page.errors.push(m.text()));
      return page;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
