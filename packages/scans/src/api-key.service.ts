import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiKeyRepository } from '@scanq/db';

const KEY_PATTERN = /^scanq_([a-z0-9]{10})_([A-Za-z0-9_-]{32,})$/;
/** The id per-key budgets count the configured bootstrap key (SCANQ_API_KEY) by. */
export const BOOTSTRAP_KEY_ID = 'bootstrap';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

const sameHash = (a: string, b: string) => {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
};

/**
 * API keys for /v1: `scanq_<prefix>_<secret>`. The prefix finds the row, the SHA-256 of the
 * whole key proves it (keys are 190+ random bits, so a fast hash is enough; no key is ever
 * stored). An optional bootstrap key from config works without a row (first start, CI).
 */
export class ApiKeyService {
  private readonly bootstrapHash: string | null;
  /** Verified keys (hash → row id) are remembered briefly so each request is not a database round trip. */
  private readonly verified = new Map<string, { id: string; until: number }>();

  constructor(
    private readonly keys: ApiKeyRepository,
    bootstrapKey: string | undefined,
    private readonly cacheMs = 10_000,
  ) {
    this.bootstrapHash = bootstrapKey ? sha256(bootstrapKey) : null;
  }

  /** Creates a key; the returned `key` is the only time it is ever shown. */
  async create(name: string): Promise<{ name: string; key: string } | null> {
    const prefix = randomBytes(8).toString('hex').slice(0, 10);
    const key = `scanq_${prefix}_${randomBytes(24).toString('base64url')}`;
    const row = await this.keys.create({ name, prefix, hash: sha256(key) });
    return row ? { name, key } : null;
  }

  revoke(name: string): Promise<boolean> {
    this.verified.clear();
    return this.keys.revoke(name);
  }

  /** True for a bootstrap key or an active stored key. Says nothing about why not. */
  async verify(presented: string | undefined): Promise<boolean> {
    return (await this.identify(presented)) !== null;
  }

  /**
   * The id of the key presented (`bootstrap` for the configured key, else its row's id), or null
   * when it is no valid key. The id, never the secret, is what per-key budgets are counted by.
   */
  async identify(presented: string | undefined): Promise<string | null> {
    if (!presented || presented.length > 200) return null;
    const hash = sha256(presented);
    if (this.bootstrapHash && sameHash(hash, this.bootstrapHash)) return BOOTSTRAP_KEY_ID;
    const cached = this.verified.get(hash);
    if (cached && cached.until > Date.now()) return cached.id;
    const match = KEY_PATTERN.exec(presented);
    if (!match) return null;
    const row = await this.keys.findActiveByPrefix(match[1]!);
    if (!row || !sameHash(hash, row.hash)) return null;
    this.verified.set(hash, { id: row.id, until: Date.now() + this.cacheMs });
    void this.keys.touch(row.id).catch(() => undefined);
    return row.id;
  }
}
