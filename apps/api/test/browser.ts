import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { expect } from 'vitest';

/** Debian's chromium (scripts/install-chromium.sh; .ci/run installs it when missing). Never a downloaded browser. */
export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
/** Appended to a browser test's title where it is skipped: says why and how to install it. */
export const chromiumSkipNote = hasChromium ? '' : ` (SKIPPED: ${CHROMIUM} is missing; run scripts/install-chromium.sh)`;

/**
 * Navigates to `url` in a fresh context and returns the statuses the document itself was
 * answered with, every URL served ok (page, scripts, API calls), and the navigation error if
 * the browser gave up (headless Chromium has no login prompt: on a challenge it cannot answer,
 * navigation may fail).
 */
export async function visit(browser: Browser, url: string, httpCredentials?: { username: string; password: string }) {
  const context = await browser.newContext(httpCredentials ? { httpCredentials } : {});
  try {
    const page = await context.newPage();
    const statuses: number[] = [];
    const served: string[] = [];
    page.on('response', (r) => {
      if (r.url() === url) statuses.push(r.status());
      if (r.ok()) served.push(r.url());
    });
    const error = await page.goto(url).then(
      () => undefined,
      (err: Error) => err.message,
    );
    return { statuses, error, served };
  } finally {
    await context.close();
  }
}

/**
 * Visits `url` with no or wrong credentials and checks it was refused: every answer to the
 * document a 401, Chromium showing it or giving up on the challenge (never anything else), and
 * nothing of the page served (not the page, its scripts, nor its API).
 */
export async function expectRefused(browser: Browser, url: string, httpCredentials?: { username: string; password: string }): Promise<void> {
  const { statuses, error, served } = await visit(browser, url, httpCredentials);
  expect(statuses.length).toBeGreaterThan(0);
  expect(statuses.every((s) => s === 401)).toBe(true);
  if (error !== undefined) expect(error).toContain('ERR_INVALID_AUTH_CREDENTIALS');
  expect(served).toEqual([]);
}
