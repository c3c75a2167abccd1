import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH } from '../../../test/support/env.js';
import { type InProcessApi, startInProcessApi } from './in-process-api.js';

const PASSWORD = 'ui-test-password';
const BASIC = { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}` };
const WRONG = { authorization: `Basic ${Buffer.from('admin:not-the-password').toString('base64')}` };
const CHART_JS = readFileSync(join(dirname(createRequire(join(process.cwd(), 'apps/api/package.json')).resolve('chart.js')), 'chart.umd.min.js'));

/** /ui without a browser: who it lets in, what it serves, and its failed/stuck scans table against Postgres. */
describe('the dashboard over HTTP', () => {
  let api: InProcessApi;
  let db: pg.Client;

  beforeAll(async () => {
    api = await startInProcessApi('ui', ['aws'], PASSWORD);
    db = new pg.Client({ connectionString: api.env.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await api?.close();
  });

  const get = (url: string, headers: Record<string, string> = {}) => api.app.inject({ method: 'GET', url, headers });

  it('refuses the page, its assets and its data without credentials or with wrong ones, challenging for Basic', async () => {
    for (const url of ['/ui', '/ui/', '/ui/assets/chart.umd.min.js', '/ui/assets/dashboard.js', '/ui/api/vulnerabilities/summary', '/ui/api/images/most-critical', '/ui/api/scans/troubled']) {
      for (const headers of [{}, WRONG, { authorization: 'Bearer not-a-key' }]) {
        const res = await get(url, headers);
        expect(res.statusCode, `${url} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers['www-authenticate']).toMatch(/^Basic realm=/);
        expect(res.body).not.toContain('Chart');
      }
    }
  });

  it('serves the page and the Chart.js build from node_modules with the admin credentials', async () => {
    const page = await get('/ui', BASIC);
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('/ui/assets/chart.umd.min.js');
    expect(page.body).toContain('/ui/assets/dashboard.js');
    const chart = await get('/ui/assets/chart.umd.min.js', BASIC);
    expect(chart.statusCode).toBe(200);
    expect(chart.headers['content-type']).toMatch(/^text\/javascript/);
    expect(chart.rawPayload.equals(CHART_JS)).toBe(true);
    expect(chart.body).toMatch(/Chart\.js v4\./);
    const missing = await get('/ui/assets/..%2Fui.plugin.ts', BASIC);
    expect(missing.statusCode).toBe(404);
  });

  it('accepts an API key on its data too, and keeps its routes out of the OpenAPI document', async () => {
    const res = await get('/ui/api/vulnerabilities/summary', AUTH);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ images: 0, findings: 0 });
    const doc = (await get('/docs/json')).json() as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).some((p) => p.startsWith('/ui'))).toBe(false);
    expect(Object.keys(doc.paths)).toContain('/v1/vulnerabilities/summary');
  });

  it('lists scans failed (timed out or not) lately and scans not terminal past the threshold, and no others', async () => {
    const submit = (tag: string) => api.runtime.submit.submit({ provider: 'aws', account: 'sim-aws', repositoryName: 'scanq/api', imageId: { imageTag: tag } }).then((r) => r.scan.id);
    const [stuck, fresh, timedOut, failed, oldFailure] = [await submit('stuck'), await submit('fresh'), await submit('timed-out'), await submit('failed'), await submit('old-failure')];
    // No worker runs here: every scan stays queued until the repository ends it.
    await db.query(`UPDATE "Scan" SET "createdAt" = "createdAt" - interval '2 hours' WHERE "id" = $1`, [stuck]);
    expect(await api.runtime.scans.finish(timedOut, 'failed', { reason: 'timed_out', error: 'no result before the deadline' })).toBe(true);
    expect(await api.runtime.scans.finish(failed, 'failed', { reason: 'image_not_found', error: 'no such image' })).toBe(true);
    expect(await api.runtime.scans.finish(oldFailure, 'failed', { reason: 'image_not_found' })).toBe(true);
    await db.query(`UPDATE "Scan" SET "finishedAt" = "finishedAt" - interval '25 hours' WHERE "id" = $1`, [oldFailure]);

    const res = await get('/ui/api/scans/troubled?hours=24&stuckMinutes=60', BASIC);
    expect(res.statusCode).toBe(200);
    const items = (res.json() as { items: { id: string; problem: string; status: string; account: string; provider: string }[] }).items;
    const byId = new Map(items.map((i) => [i.id, i]));
    expect(byId.get(stuck)).toMatchObject({ problem: 'stuck', status: 'queued', provider: 'aws', account: 'sim-aws' });
    expect(byId.get(timedOut)).toMatchObject({ problem: 'timed_out', status: 'failed' });
    expect(byId.get(failed)).toMatchObject({ problem: 'failed', status: 'failed' });
    expect(byId.has(fresh)).toBe(false);
    expect(byId.has(oldFailure)).toBe(false);
    expect(items).toHaveLength(3);

    const bad = await get('/ui/api/scans/troubled?hours=0', BASIC);
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('hours');
  });
});
