import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type CreateScanRequest, SIMULATOR_ACCOUNTS } from '@scanq/core';
import pg from 'pg';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../test/support/processes.js';
import { startHarness, type WorkerHarness } from '../../worker/test/harness.js';
import { buildApi } from '../src/app.js';
import { UI_PATH } from '../src/ui/ui.plugin.js';
import { CHROMIUM, chromiumSkipNote, expectRefused, hasChromium } from './browser.js';

const SCREENSHOT = join(REPO_ROOT, 'test-artifacts', 'ui-dashboard.png');
const PASSWORD = 'ui-browser-test-password';
/** The dashboard's severity colours (static/dashboard.js): a bar drawn is pixels of these. */
const SEVERITY_RGB = ['#8b0000', '#e4572e', '#f3a712', '#4f86c6', '#9aa5b1', '#c8ced6'].map((h) => [1, 3, 5].map((i) => Number.parseInt(h.slice(i, i + 2), 16)));

/**
 * The dashboard as a person sees it: real scans through the worker and SDKs against the
 * simulator fill the inventory, then headless Chromium opens /ui with the admin credentials.
 */
describe.skipIf(!hasChromium)(`the dashboard in headless Chromium${chromiumSkipNote}`, { timeout: 240_000 }, () => {
  let h: WorkerHarness;
  let app: Awaited<ReturnType<typeof buildApi>>['app'];
  let db: pg.Client;
  let browser: Browser;
  let url: string;
  let failedScanId: string;

  beforeAll(async () => {
    h = await startHarness('uibrowser', { SCANQ_POLL_INITIAL_MS: '100' }, { SIM_AWS_SCAN_MS: '100', SIM_ALIBABA_SCAN_MS: '300', SIM_TENCENT_SCAN_MS: '300' });
    await Promise.all([h.addAccount('alibaba'), h.addAccount('tencent')]);
    ({ app } = await buildApi(h.worker.runtime, { adminUser: 'admin', adminPassword: PASSWORD, logger: false }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}${UI_PATH}`;
    db = new pg.Client({ connectionString: h.env.databaseUrl });
    await db.connect();

    const tc = (await (await fetch(`${h.sim.url}/_sim/state/tencent`)).json()) as { accounts: { name: string; images: { Id: number; special: unknown }[] }[] };
    const tcIds = tc.accounts.find((a) => a.name === SIMULATOR_ACCOUNTS.tencent[0].name)!.images.filter((i) => i.special === null).slice(0, 6).map((i) => i.Id);
    // Three clouds' worth of current findings, and one scan that fails (an unknown tag).
    const ali = (await (await fetch(`${h.sim.url}/_sim/state/alibaba`)).json()) as { accounts: { name: string; images: { digest: string; behaviour: string; supportedRegion: boolean }[] }[] };
    const aliDigests = ali.accounts.find((a) => a.name === SIMULATOR_ACCOUNTS.alibaba[0].name)!.images.filter((i) => i.behaviour === 'normal' && i.supportedRegion).slice(0, 6).map((i) => i.digest);
    const run = async (request: CreateScanRequest) => h.waitForTerminal((await h.worker.runtime.submit.submit(request)).scan.id, 120_000);
    const [aws, alibaba, tencent, failed] = await Promise.all([
      run({ provider: 'aws', account: 'sim-aws', repositoryName: 'scanq/api', imageId: { imageTag: 'latest' } }),
      run({ provider: 'alibaba', account: SIMULATOR_ACCOUNTS.alibaba[0].name, digests: aliDigests } as CreateScanRequest),
      run({ provider: 'tencent', account: SIMULATOR_ACCOUNTS.tencent[0].name, repositoryIds: tcIds } as CreateScanRequest),
      run({ provider: 'aws', account: 'sim-aws', repositoryName: 'scanq/api', imageId: { imageTag: 'does-not-exist' } }),
    ]);
    expect(aws.status, `${aws.reason} ${aws.error}`).toBe('succeeded');
    expect(alibaba.status, `${alibaba.reason} ${alibaba.error}`).toBe('succeeded');
    expect(tencent.status, `${tencent.reason} ${tencent.error}`).toBe('succeeded');
    expect(failed.status).toBe('failed');
    failedScanId = failed.id;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  });
  afterAll(async () => {
    await browser?.close();
    await db?.end();
    await app?.close();
    await h?.close();
  });

  const q = async <T extends pg.QueryResultRow>(text: string, values: unknown[] = []) => (await db.query<T>(text, values)).rows;

  it('answers 401 without credentials and with wrong ones, and serves nothing of the page', async () => {
    for (const httpCredentials of [undefined, { username: 'admin', password: 'not-the-password' }]) {
      await expectRefused(browser, url, httpCredentials);
    }
  });

  it('draws non-empty charts, lists the images with the most criticals and the failed scan, finds a seeded CVE’s images, and saves a screenshot', async () => {
    const context = await browser.newContext({ httpCredentials: { username: 'admin', password: PASSWORD }, viewport: { width: 1400, height: 1000 } });
    try {
      const page = await context.newPage();
      const res = await page.goto(url);
      expect(res?.status()).toBe(200);
      await page.waitForSelector('body[data-loaded="true"]', { timeout: 60_000 });
      expect(await page.locator('#error').isHidden()).toBe(true);

      // Each chart: pixels of a severity colour, i.e. bars, not just axes (read from the canvas itself).
      const barPixels = async (id: string) =>
        page.locator(`#${id}`).evaluate((el, colours) => {
          // No DOM lib in this tsconfig: the canvas as far as this reads it.
          const canvas = el as unknown as { width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } };
          const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
          let n = 0;
          for (let i = 0; i < data.length; i += 4) if (data[i + 3] === 255 && colours.some(([r, g, b]) => data[i] === r && data[i + 1] === g && data[i + 2] === b)) n++;
          return n;
        }, SEVERITY_RGB);
      const bars = { byAccount: await barPixels('by-account'), topCves: await barPixels('top-cves') };
      expect(bars.byAccount).toBeGreaterThan(200);
      expect(bars.topCves).toBeGreaterThan(200);

      // The most-criticals table: the image Postgres counts the most criticals for comes first.
      const [worst] = await q<{ repository: string; critical: number }>(`SELECT "repository", "critical" FROM "Image" WHERE "critical" > 0 ORDER BY "critical" DESC, "high" DESC, "id" LIMIT 1`);
      expect(worst, 'a seeded image has a critical finding').toBeDefined();
      const firstCritical = await page.locator('#most-critical tbody tr').first().locator('td').allInnerTexts();
      expect(firstCritical[2]).toBe(worst!.repository);
      expect(Number(firstCritical[5])).toBe(worst!.critical);

      // The failed scan is in the failed/stuck table.
      const troubled = await page.locator('#troubled tbody').innerText();
      expect(troubled).toContain(failedScanId);
      expect(troubled).toContain('image_not_found');

      // Search: a CVE on images of both clouds (or the most widespread one), its images as Postgres has them.
      const [pick] = await q<{ id: string }>(
        `SELECT f."vulnerabilityId" AS id FROM "Finding" f JOIN "Image" im ON im."currentImageScanId" = f."imageScanId"
         GROUP BY 1 ORDER BY count(DISTINCT im."provider") DESC, count(DISTINCT im."id") DESC, 1 LIMIT 1`,
      );
      const affected = await q<{ provider: string; repository: string; digest: string }>(
        `SELECT DISTINCT im."provider"::text AS provider, im."repository", im."digest" FROM "Finding" f JOIN "Image" im ON im."currentImageScanId" = f."imageScanId" WHERE f."vulnerabilityId" = $1`,
        [pick!.id],
      );
      expect(affected.length).toBeGreaterThan(0);
      await page.fill('#cve', pick!.id);
      await page.click('#search button');
      await page.waitForSelector('body[data-search="done"]', { timeout: 30_000 });
      const rows = await page.locator('#search-results tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
      expect(rows).toHaveLength(affected.length);
      for (const a of affected) expect(rows.some((r) => r[0] === a.provider && r[3] === a.repository && a.digest.startsWith(r[4]!))).toBe(true);
      expect(await page.locator('#search-status').innerText()).toContain(`${affected.length} image(s)`);

      // The screenshot shows the charts, the tables and the search's answer.
      mkdirSync(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      const png = readFileSync(SCREENSHOT);
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      expect(png.length).toBeGreaterThan(20_000);

      // An id no image has: said so, no rows.
      await page.locator('body').evaluate((body) => void delete (body as unknown as { dataset: Record<string, string> }).dataset.search);
      await page.fill('#cve', 'CVE-1999-0000');
      await page.click('#search button');
      await page.waitForSelector('body[data-search="done"]', { timeout: 30_000 });
      expect(await page.locator('#search-status').innerText()).toContain('affects no image');

    } finally {
      await context.close();
    }
  });
});
