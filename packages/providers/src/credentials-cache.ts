import { createHash } from 'node:crypto';
import type { ProviderAccount } from './contract.js';

/** Keys good until `expiresAt` (epoch ms; Infinity for long-lived keys). */
export interface Expiring<K> {
  keys: K;
  expiresAt: number;
}

/** Never refresh earlier than this before expiry (the AWS SDK's margin), however long the keys live. */
const MAX_REFRESH_MARGIN_MS = 5 * 60_000;

/**
 * Temporary keys for one account, fetched on first use and again before they expire: a quarter
 * of their lifetime ahead, at most five minutes ahead (so hour-long keys refresh 5 min early
 * and the simulator's seconds-long keys still serve most of their life). One fetch at a time:
 * calls that arrive while keys are being fetched wait for that fetch. `invalidate` drops keys
 * the cloud refused (revoked, or expired early by its clock), so the next call fetches anew.
 */
export class RefreshingKeys<K> {
  private current: (Expiring<K> & { fetchedAt: number }) | null = null;
  private inflight: Promise<K> | null = null;

  constructor(
    private readonly fetch: () => Promise<Expiring<K>>,
    private readonly now: () => number = Date.now,
  ) {}

  private fresh(): K | null {
    const c = this.current;
    if (!c) return null;
    const margin = Math.min(MAX_REFRESH_MARGIN_MS, (c.expiresAt - c.fetchedAt) / 4);
    return this.now() < c.expiresAt - margin ? c.keys : null;
  }

  get(): Promise<K> {
    const keys = this.fresh();
    if (keys) return Promise.resolve(keys);
    this.inflight ??= (async () => {
      try {
        const fetchedAt = this.now();
        const got = await this.fetch();
        this.current = { ...got, fetchedAt };
        return got.keys;
      } finally {
        this.inflight = null;
      }
    })();
    return this.inflight;
  }

  /** Drops `keys` if they are still the current ones (another call may have refreshed them already). */
  invalidate(keys?: K): void {
    if (!keys || this.current?.keys === keys) this.current = null;
  }
}

/**
 * What identifies an account's credential: its id, its source block and a digest of its
 * secrets, so a changed secret (a re-read credentials file) or source never reuses old keys.
 */
export function credentialKey(account: ProviderAccount): string {
  const digest = createHash('sha256')
    .update(JSON.stringify(Object.entries(account.credentials).sort(([a], [b]) => a.localeCompare(b))))
    .update('\0')
    .update(JSON.stringify(account.credentialSource ?? null))
    .digest('hex')
    .slice(0, 24);
  return `${account.id}|${digest}`;
}

/** Bounds a credential fetch the SDK runs without a timeout of its own (metadata services). */
export function withTimeout<T>(ms: number, what: string, run: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(Object.assign(new Error(`${what}: no answer within ${ms} ms`), { code: 'ETIMEDOUT' })), ms);
    timer.unref();
    run().then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
