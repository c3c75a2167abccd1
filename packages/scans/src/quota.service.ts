import type { Provider, QuotaView, ScanqConfig } from '@scanq/core';

type AccountQuota = QuotaView['quota'];
import type { AccountRepository, CloudAccount, ImageScanWindowRepository } from '@scanq/db';
import { ConcurrencySlots, RedisKeyspace, scanKeys, SlidingWindowPacer, type RedisClient } from '@scanq/queue';
import { alibabaSlotsPrefix } from './start-policies/alibaba-scan-task.policy.js';

/** Where the workers' PacedCallGate keeps a provider's pacers (`<this(provider)>:<accountId>:<api>`). */
export const callPaceKeyPrefix = (config: ScanqConfig) => (provider: Provider) => new RedisKeyspace(config.queuePrefix).callPace(provider);

/**
 * The live quota view (`GET /v1/quotas`, `scanq quota`): each account's quota as the quota
 * primitives themselves see it right now (Redis), plus the durable 24 h record (Postgres).
 */
export class QuotaService {
  constructor(
    private readonly redis: RedisClient,
    private readonly config: ScanqConfig,
    private readonly accounts: AccountRepository,
    private readonly windows: ImageScanWindowRepository,
  ) {}

  private get keyspace(): RedisKeyspace {
    return new RedisKeyspace(this.config.queuePrefix);
  }

  async all(provider?: Provider): Promise<QuotaView[]> {
    const accounts = await this.accounts.list(provider);
    return Promise.all(accounts.map(async (a) => ({ account: a.name, accountId: a.id, provider: a.provider, region: a.region, quota: await this.of(a) })));
  }

  private async of(account: CloudAccount): Promise<AccountQuota> {
    const now = Date.now();
    switch (account.provider) {
      case 'alibaba': {
        const { taskLimit, slotLeaseMs } = this.config.worker.alibaba;
        // Same key the start policy uses (start-policies/alibaba-scan-task.policy.ts).
        const state = await new ConcurrencySlots(this.redis, `${alibabaSlotsPrefix(this.keyspace)}:${account.id}`, taskLimit, slotLeaseMs).state();
        const holders = state.holders.map((h) => ({ scanId: h.owner, leaseExpiresAt: new Date(now + h.expiresInMs).toISOString() }));
        const earliest = state.holders.length ? Math.min(...state.holders.map((h) => h.expiresInMs)) : null;
        return {
          kind: 'concurrency_slots',
          limit: state.limit,
          inUse: state.inUse,
          external: state.external,
          free: state.free,
          waiting: state.waiters.length,
          leaseMs: slotLeaseMs,
          holders,
          earliestLeaseExpiryAt: earliest === null ? null : new Date(now + earliest).toISOString(),
        };
      }
      case 'aws': {
        const windowMs = this.config.worker.awsScanWindowMs;
        const { total, soonest } = await this.windows.inWindow(account.id, new Date(now - windowMs), 20);
        return {
          kind: 'scan_once_window',
          windowHours: windowMs / 3_600_000,
          imagesInWindow: total,
          nextOpening: soonest.map((w) => ({ repository: w.repository, digest: w.digest, opensAt: new Date(w.lastRequestedAt.getTime() + windowMs).toISOString() })),
        };
      }
      case 'tencent': {
        const { limitPerSec, marginMs } = this.config.worker.tencent;
        const base = `${this.keyspace.callPace('tencent')}:${account.id}:`;
        // On a cluster every master is scanned (a SCAN sees one node's keys only).
        const keys = await scanKeys(this.redis, `${base}*`, 500);
        const apis = await Promise.all(
          [...new Set(keys)].map(async (key) => {
            const state = await new SlidingWindowPacer(this.redis, key, limitPerSec, 1000 + marginMs).inspect();
            return { api: key.slice(base.length), lastSecond: state.lastSecond, waiting: state.ahead, rate: `${state.lastSecond}/${limitPerSec}` };
          }),
        );
        return { kind: 'sliding_window', limitPerSec, windowMs: 1000 + marginMs, apis: apis.sort((a, b) => a.api.localeCompare(b.api)) };
      }
      case 'huawei':
        return { kind: 'batch', maxImagesPerCall: 10_241 };
    }
  }
}
