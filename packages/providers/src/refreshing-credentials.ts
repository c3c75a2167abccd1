import { createHash } from 'node:crypto';
import { ProviderError } from '@scanq/core';
import type { ProviderAccount } from './contract.js';

/** Temporary credentials' end, where they have one (none: long-lived keys, kept until invalidated). */
export interface Expiring {
  expiration?: Date;
}

/** Refresh this long before expiry at most (the AWS SDK's own window), or half a short lifetime. */
export const MAX_REFRESH_MARGIN_MS = 5 * 60_000;

/**
 * One account's credentials (any cloud's: an AWS identity, an Alibaba session, Tencent or Huawei
 * temporary keys), fetched once and reused until they near their expiry, then fetched again — by
 * one caller at a time (concurrent calls share the fetch). Credentials with no expiry are kept.
 * A refresh that fails while the credentials held are still valid hands those out (a blip at
 * STS does not fail calls that could still be signed); once they are expired its error is
 * thrown. The margin is half the lifetime seen, at most 5 minutes: an hour-long session is
 * refreshed at 55 minutes, a simulator's 4-second one at 2 seconds.
 */
export class RefreshingCredentials<T extends Expiring> {
  private held: { value: T; refreshAt: number; expiresAt: number } | undefined;
  private pending: Promise<T> | undefined;

  constructor(private readonly fetch: () => Promise<T>) {}

  async get(): Promise<T> {
    const now = Date.now();
    if (this.held && now < this.held.refreshAt) return this.held.value;
    const held = this.held;
    try {
      return await (this.pending ??= this.refresh());
    } catch (err) {
      if (held && Date.now() < held.expiresAt - 1_000) return held.value;
      throw err;
    }
  }

  /**
   * Forget what is held (the cloud refused it as expired or unknown): the next get fetches.
   * Given the refused `value`, only if it is still the one held (a concurrent call may have
   * refreshed it already; its successor is not dropped).
   */
  invalidate(value?: T): void {
    if (!value || this.held?.value === value) this.held = undefined;
  }

  private async refresh(): Promise<T> {
    const fetchedAt = Date.now();
    try {
      const value = await this.fetch();
      const expiresAt = value.expiration?.getTime() ?? Infinity;
      const margin = Number.isFinite(expiresAt) ? Math.min(MAX_REFRESH_MARGIN_MS, Math.max(0, (expiresAt - fetchedAt) / 2)) : 0;
      this.held = { value, expiresAt, refreshAt: expiresAt - margin };
      return value;
    } finally {
      this.pending = undefined;
    }
  }
}

/**
 * A short digest of what an account's credentials are built from (its source block and the
 * secret set): caches are keyed by it, so a changed set (a re-read credentials file) or source
 * builds new ones instead of signing with what was replaced. A digest, so no secret sits in a map key.
 */
export function credentialFingerprint(source: unknown, secrets: Record<string, string>): string {
  const sorted = Object.fromEntries(Object.entries(secrets).sort(([a], [b]) => (a < b ? -1 : 1)));
  return createHash('sha256').update(JSON.stringify([source ?? null, sorted])).digest('base64url').slice(0, 22);
}

/**
 * Each account's credential entry (a RefreshingCredentials and the clients its fetch reuses),
 * built on first use and rebuilt when the account's fingerprint changes; one entry per account.
 */
export class PerAccountCredentials<E> {
  private readonly byAccount = new Map<string, { fingerprint: string; entry: E }>();

  constructor(private readonly build: (account: ProviderAccount) => E) {}

  /** The account's entry and the fingerprint to cache its SDK clients under. */
  for(account: ProviderAccount): { fingerprint: string; entry: E } {
    const fingerprint = credentialFingerprint(account.credentialSource ?? null, account.credentials);
    let held = this.byAccount.get(account.id);
    if (!held || held.fingerprint !== fingerprint) {
      held = { fingerprint, entry: this.build(account) };
      this.byAccount.set(account.id, held);
    }
    return held;
  }

  /** The entry the account holds now, if any (to invalidate what the cloud refused). */
  held(accountId: string): E | undefined {
    return this.byAccount.get(accountId)?.entry;
  }
}

/**
 * The account's credentials block as `schema` (one cloud's sources) reads it, `static` when it
 * has none. The resolver checked it when the account was loaded; an adapter given an account
 * directly checks it here, failing terminal no_permission with the field and the rule.
 */
export function credentialSourceOf<T>(account: ProviderAccount, schema: SourceSchema<T>): T {
  if (!account.credentialSource) return { source: 'static' } as T;
  const parsed = schema.safeParse(account.credentialSource);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ProviderError('terminal', 'InvalidCredentialSource', `account ${account.name}: credentials.${issue.path.join('.') || 'source'} ${issue.message}`, 'no_permission');
  }
  return parsed.data;
}

/** What credentialSourceOf needs of a zod schema (zod itself is core's, not this package's, dependency). */
interface SourceSchema<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } };
}

/** `scanq-<account name>` as a role session name (2–64 of [\w+=,.@-]). */
export function defaultSessionName(accountName: string): string {
  return `scanq-${accountName.replace(/[^\w+=,.@-]/g, '-')}`.slice(0, 64);
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
