import { simulatorAccountRequest } from '@scanq/core';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type WorkerHarness } from './harness.js';
import { waitFor } from '../../../test/support/wait.js';

/**
 * Bulk scans and schedules selecting accounts by labels (accountSelector.matchLabels), the labels
 * set by an accounts apply; judged by the scan tasks the simulator counted per account image.
 */
describe('bulk scans and schedules by account labels', () => {
  let h: WorkerHarness;
  beforeAll(async () => {
    h = await startHarness('bulklabels', { SCANQ_POLL_INITIAL_MS: '50' }, { SIM_AWS_SCAN_MS: '50' });
    await h.addAccount('aws', 1);
  });
  afterAll(async () => h?.close());

  const label = (labels: [Record<string, string>, Record<string, string>]) =>
    h.worker.runtime.accountApply.apply({
      accounts: [
        { ...simulatorAccountRequest('aws', 0, h.sim.url), labels: labels[0] },
        { ...simulatorAccountRequest('aws', 1, h.sim.url), labels: labels[1] },
      ],
    });
  const waitBulk = (id: string) =>
    waitFor(
      async () => {
        const b = await h.worker.runtime.bulkScans.get(id);
        return b && ['succeeded', 'failed', 'cancelled'].includes(b.status) ? b : undefined;
      },
      { timeoutMs: 60_000, what: `bulk scan ${id}` },
    );
  /** Scan tasks the simulator created, per `<account>/<repository>@<digest>`, since `before`. */
  const tasksSince = async (before: Record<string, number>) => {
    const perImage = ((await h.calls()).tasks?.aws?.perImage ?? {}) as Record<string, number>;
    return Object.entries(perImage).filter(([k, n]) => n > (before[k] ?? 0)).map(([k]) => k);
  };
  const tasksNow = async () => ({ ...(((await h.calls()).tasks?.aws?.perImage ?? {}) as Record<string, number>) });

  it('a bulk scan by labels scans only the labelled account’s images', async () => {
    const applied = await label([{ team: 'payments', env: 'prod' }, { team: 'search', env: 'prod' }]);
    expect(applied.counts).toMatchObject({ update: 2, create: 0 });
    const before = await tasksNow();
    const { bulk } = await h.worker.runtime.bulk.create({ selector: { accountSelector: { matchLabels: { team: 'payments' } }, repositories: ['scanq/web'] }, force: true });
    const done = await waitBulk(bulk.id);
    expect(done.status).toBe('succeeded');
    const scans = await h.worker.runtime.db.scan.findMany({ where: { bulkScanId: bulk.id } });
    expect(scans.length).toBeGreaterThan(0);
    expect(new Set(scans.map((s) => s.accountId))).toEqual(new Set([h.account.id]));
    const started = await tasksSince(before);
    expect(started.length).toBeGreaterThan(0);
    expect(started.every((k) => k.startsWith('sim-aws/scanq/web@'))).toBe(true);
  });

  it('refuses a bulk scan whose labels match no account; a schedule may select labels no account has yet, and its tick picks up accounts labelled since', async () => {
    await expect(h.worker.runtime.bulk.create({ selector: { accountSelector: { matchLabels: { team: 'nobody' } } } })).rejects.toMatchObject({ status: 422 });
    const schedule = await h.worker.runtime.schedules.create({
      name: 'by-label',
      cron: '0 0 1 1 *',
      timezone: 'UTC',
      selector: { accountSelector: { matchLabels: { team: 'infra' } }, repositories: ['scanq/web'] },
      force: true,
      enabled: true,
    });
    await label([{ team: 'payments' }, { team: 'infra' }]);
    const before = await tasksNow();
    const tickAt = Date.now();
    await h.worker.runtime.schedules.tick({ id: `repeat:${schedule.id}:${tickAt}`, data: { scheduleId: schedule.id }, timestamp: tickAt, opts: {} } as unknown as Job<{ scheduleId: string }>);
    const [bulk] = await h.worker.runtime.db.bulkScan.findMany({ where: { scheduleId: schedule.id } });
    const done = await waitBulk(bulk!.id);
    expect(done.status).toBe('succeeded');
    const sim2 = (await h.worker.runtime.accounts.list('aws')).find((a) => a.name === 'sim-aws-2')!;
    const scans = await h.worker.runtime.db.scan.findMany({ where: { bulkScanId: bulk!.id } });
    expect(scans.length).toBeGreaterThan(0);
    expect(new Set(scans.map((s) => s.accountId))).toEqual(new Set([sim2.id]));
    const started = await tasksSince(before);
    expect(started.length).toBeGreaterThan(0);
    expect(started.every((k) => k.startsWith('sim-aws-2/scanq/web@'))).toBe(true);
  });
});
