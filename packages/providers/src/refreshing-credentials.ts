import { createHash } from 'node:crypto';

/** Temporary credentials' end, where they have one. */
export interface Expiring {
  expiration?: Date;
}

/** Refresh this long before expiry at most (the AWS SDK's own window), or half a short lifetime. */
export const MAX_REFRESH_MARGIN_MS = 5 * 60_000;

/**
 * One account's credentials, fetched once and reused until they near their expiry, then fetched
 * again — by one caller at a time (concurrent calls share the fetch). Credentials with no
 * expiry are kept. A refresh that fails while the credentials held are still valid hands those
 * out (a blip at STS does not fail calls that could still be signed); once they are expired
 * its error is thrown. The margin is half the lifetime seen, at most 5 minutes: an hour-long
 * session is refreshed at 55 minutes, a simulator's 4-second one at 2 seconds.
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

  /** Forget what is held (the cloud refused it as expired or unknown): the next get fetches. */
  invalidate(): void {
    this.held = undefined;
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
 * secret set): SDK clients are cached under it, so a changed set or source builds new ones
 * instead of signing with what was replaced. A digest, so no secret sits in a map key.
 */
export function credentialFingerprint(source: unknown, secrets: Record<string, string>): string {
  const sorted = Object.fromEntries(Object.entries(secrets).sort(([a], [b]) => (a < b ? -1 : 1)));
  return createHash('sha256').update(JSON.stringify([source ?? null, sorted])).digest('base64url').slice(0, 22);
}

/** `scanq-<account name>` as a role session name (2–64 of [\w+=,.@-]). */
export function defaultSessionName(accountName: string): string {
  return `scanq-${accountName.replace(/[^\w+=,.@-]/g, '-')}`.slice(0, 64);
}
