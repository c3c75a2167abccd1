import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PROVIDERS } from '@scanq/core';
import type { ScanqRuntime } from '@scanq/scans';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../test/support/processes.js';
import { BULL_BOARD_PATH } from '../src/app.js';
import { type InProcessApi, startInProcessApi } from './in-process-api.js';

/** Debian's chromium (scripts/install-chromium.sh; .ci/run installs it when missing). Never a downloaded browser. */
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const SCREENSHOT = join(REPO_ROOT, 'test-artifacts', 'bull-board.png');
const PASSWORD = 'browser-test-password';

describe.skipIf(!hasChromium)(`Bull Board as a person sees it, in headless Chromium${hasChromium ? '' : ` (SKIPPED: ${CHROMIUM} is missing; run scripts/install-chromium.sh)`}`, () => {
  let api: InProcessApi;
  let runtime: ScanqRuntime;
  let app: InProcessApi['app'];
  let browser: Browser;
  let url: string;

  beforeAll(async () => {
    api = await startInProcessApi('bullboard', [], PASSWORD);
    ({ runtime, app } = api);
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}${BULL_BOARD_PATH}`;
    // A job waiting on the aws queue, so the board has something to show beside empty queues.
    await runtime.queues.queue('aws').add('scan.start', { scanId: '01900000-0000-7000-8000-000000000000' });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  });
  afterAll(async () => {
    await browser?.close();
    await api?.close();
  });

  /** Navigates and returns the document's HTTP status and the navigation error, if the browser gave up. */
  async function visit(httpCredentials?: { username: string; password: string }) {
    const context = await browser.newContext(httpCredentials ? { httpCredentials } : {});
    try {
      const page = await context.newPage();
      const statuses: number[] = [];
      const served: string[] = [];
      page.on('response', (r) => {
        if (r.url() === url) statuses.push(r.status());
        if (r.ok()) served.push(r.url());
      });
      // Headless Chromium has no login prompt: on a challenge it cannot answer the navigation may fail.
      const error = await page.goto(url).then(
        () => undefined,
        (err: Error) => err.message,
      );
      return { statuses, error, served };
    } finally {
      await context.close();
    }
  }

  it('answers 401 with a Basic challenge without credentials and with wrong ones, and shows no board', async () => {
    for (const credentials of [undefined, { username: 'admin', password: 'not-the-password' }]) {
      const { statuses, error, served } = await visit(credentials);
      expect(statuses.length).toBeGreaterThan(0);
      expect(statuses.every((s) => s === 401)).toBe(true);
      // Chromium either shows the 401 page or gives up on the challenge; never anything else.
      if (error !== undefined) expect(error).toContain('ERR_INVALID_AUTH_CREDENTIALS');
      expect(served).toEqual([]); // not the page, its scripts, nor its queue API
    }
  });

  it('logs in with Basic auth, lists every provider queue, and saves a screenshot', async () => {
    const context = await browser.newContext({ httpCredentials: { username: 'admin', password: PASSWORD }, viewport: { width: 1280, height: 900 } });
    try {
      const page = await context.newPage();
      const res = await page.goto(url);
      expect(res?.status()).toBe(200);
      // The board is a single-page app: its queue list arrives from its own API after load.
      for (const provider of PROVIDERS) {
        await page.getByRole('link', { name: provider, exact: true }).first().waitFor({ state: 'visible', timeout: 20_000 });
      }
      // Live data, not just names: the job waiting on the aws queue is counted on its card.
      await page.getByText('1 Job', { exact: true }).waitFor({ state: 'visible', timeout: 20_000 });
      const text = await page.locator('body').innerText();
      expect(text).toContain('scanq');
      mkdirSync(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      expect(existsSync(SCREENSHOT)).toBe(true);
    } finally {
      await context.close();
    }
  });
});
