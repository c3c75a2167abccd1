import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PROVIDERS } from '@scanq/core';
import type { ScanqRuntime } from '@scanq/scans';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../test/support/processes.js';
import { BULL_BOARD_PATH } from '../src/app.js';
import { CHROMIUM, chromiumSkipNote, expectRefused, hasChromium } from './browser.js';
import { type InProcessApi, startInProcessApi } from './in-process-api.js';

const SCREENSHOT = join(REPO_ROOT, 'test-artifacts', 'bull-board.png');
const PASSWORD = 'browser-test-password';

describe.skipIf(!hasChromium)(`Bull Board as a person sees it, in headless Chromium${chromiumSkipNote}`, () => {
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

  it('answers 401 with a Basic challenge without credentials and with wrong ones, and shows no board', async () => {
    for (const credentials of [undefined, { username: 'admin', password: 'not-the-password' }]) {
      await expectRefused(browser, url, credentials);
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
