import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simulatorAccountRequest } from '@scanq/core';
import { signWebhook, WebhookService } from '@scanq/scans';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/support/wait.js';
import { startHarness, type WorkerHarness } from './harness.js';

const SECRET = 'webhook-test-secret-0123456789';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** Completion webhooks through the real worker: signed, retried with backoff, recorded in Postgres. */
describe('webhooks', () => {
  let h: WorkerHarness;
  let receiver: Server;
  let url = '';
  const received: Received[] = [];
  let failNext = 0;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.statusCode = failNext-- > 0 ? 500 : 204;
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    // The receiver is on loopback, so these tests allow private targets; the refusal is tested below.
    h = await startHarness('webhooks', { SCANQ_WEBHOOK_SECRET: SECRET, SCANQ_WEBHOOK_ALLOW_PRIVATE: 'true', SCANQ_WEBHOOK_BACKOFF_MS: '50', SCANQ_POLL_INITIAL_MS: '50' }, { SIM_AWS_SCAN_MS: '50' });
  });
  afterAll(async () => {
    await h?.close();
    await new Promise((r) => receiver?.close(r));
  });
  beforeEach(() => {
    received.length = 0;
    failNext = 0;
  });

  const deliveredFor = (scanId: string) =>
    waitFor(
      async () => {
        const [d] = await h.worker.runtime.deliveries.forScan(scanId);
        return d && d.status !== 'pending' ? d : undefined;
      },
      { timeoutMs: 20_000, what: 'webhook delivery' },
    );

  it('sends one signed scan.completed event to the request URL and records the delivery', async () => {
    const { scan } = await h.worker.runtime.submit.submit({ provider: 'aws', account: 'sim-aws', repositoryName: 'scanq/api', imageId: { imageTag: '1.3.9' }, webhookUrl: url });
    const delivery = await deliveredFor(scan.id);
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 1, lastStatusCode: 204, event: 'scan.completed' });
    expect(received).toHaveLength(1);
    const [hit] = received;
    const ts = Number(hit!.headers['x-scanq-timestamp']);
    expect(hit!.headers['x-scanq-signature']).toBe(`v1=${signWebhook(SECRET, ts, hit!.body)}`);
    expect(hit!.headers['x-scanq-signature']).not.toBe(`v1=${signWebhook('another-secret-0123456789', ts, hit!.body)}`);
    const event = JSON.parse(hit!.body);
    expect(event).toMatchObject({ id: delivery.id, event: 'scan.completed', scan: { id: scan.id, status: 'succeeded', provider: 'aws' } });
    expect(event.scan.images[0].severityCounts).toHaveProperty('CRITICAL');
  });

  it('retries a failing receiver with backoff until it answers 2xx, counting every attempt', async () => {
    failNext = 2;
    const { scan } = await h.worker.runtime.submit.submit({ provider: 'aws', account: 'sim-aws', repositoryName: 'scanq/api', imageId: { imageTag: '1.3.8' }, webhookUrl: url });
    const delivery = await deliveredFor(scan.id);
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 3, lastStatusCode: 204 });
    expect(received).toHaveLength(3);
    expect(new Set(received.map((r) => r.headers['x-scanq-delivery'])).size).toBe(1);
  });

  it("uses the account's webhook when the request names none", async () => {
    const account = await h.addAccount('aws', 1);
    await h.worker.runtime.accounts.upsertByName({ ...simulatorAccountRequest('aws', 1, h.sim.url), settings: { ...(account.settings as object), webhookUrl: url } });
    const { scan } = await h.worker.runtime.submit.submit({ provider: 'aws', account: 'sim-aws-2', repositoryName: 'scanq/web', imageId: { imageTag: '2.0.0' } });
    expect((await deliveredFor(scan.id)).status).toBe('delivered');
    expect(JSON.parse(received[0]!.body).scan.id).toBe(scan.id);
  });

  it('sends one bulk_scan.completed event for a whole bulk scan, none per image', async () => {
    const { bulk } = await h.worker.runtime.bulk.create({ selector: { accounts: ['sim-aws'], repositories: ['scanq/worker'] }, webhookUrl: url });
    const delivery = await waitFor(
      async () => {
        const [d] = await h.worker.runtime.deliveries.forBulkScan(bulk.id);
        return d && d.status === 'delivered' ? d : undefined;
      },
      { timeoutMs: 30_000, what: 'bulk webhook' },
    );
    expect(delivery.event).toBe('bulk_scan.completed');
    await new Promise((r) => setTimeout(r, 300));
    expect(received).toHaveLength(1);
    const event = JSON.parse(received[0]!.body);
    expect(event).toMatchObject({ event: 'bulk_scan.completed', bulkScanId: bulk.id });
    expect(event.totals.planned).toBeGreaterThan(1);
    expect(event.totals.planned).toBe(event.totals.succeeded + event.totals.failed);
    const scans = await h.worker.runtime.db.scan.findMany({ where: { bulkScanId: bulk.id }, select: { id: true } });
    expect(await h.worker.runtime.db.webhookDelivery.count({ where: { scanId: { in: scans.map((s) => s.id) } } })).toBe(0);
  });

  it('refuses loopback and private targets by default, recording why, without connecting', async () => {
    const { runtime } = h.worker;
    const strict = new WebhookService(runtime.deliveries, runtime.accounts, runtime.queues, { ...runtime.config.webhooks, allowPrivate: false }, runtime.log);
    for (const target of [url, 'http://10.1.2.3/hook', 'http://[::1]:9/hook', 'http://localhost:9/hook']) {
      const delivery = await runtime.deliveries.create({ event: 'scan.completed', url: target, payload: {} });
      const job = { data: { deliveryId: delivery.id }, attemptsMade: 0, opts: { attempts: 5 } };
      await expect(strict.deliver(job as never)).rejects.toThrow(/private address/);
      expect(await runtime.deliveries.get(delivery.id)).toMatchObject({ status: 'failed', attempts: 1, lastError: expect.stringMatching(/private address/) });
    }
    expect(received).toHaveLength(0);
  });
});
