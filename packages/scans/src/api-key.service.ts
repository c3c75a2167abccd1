import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiKeyRepository } from '@scanq/db';

const KEY_PATTERN = /^scanq_([a-z0-9]{10})_([A-Za-z0-9_-]{32,})$/;
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
  /** Verified keys are remembered briefly so each request is not a database round trip. */
  private readonly verified = new Map<string, number>();

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
    if (!presented || presented.length > 200) return false;
    const hash = sha256(presented);
    if (this.bootstrapHash && sameHash(hash, this.bootstrapHash)) return true;
    const until = this.verified.get(hash);
    if (until && until > Date.now()) return true;
    const match = KEY_PATTERN.exec(presented);
    if (!match) return false;
    const row = await this.keys.findActiveByPrefix(match[1]!);
    if (!row || !sameHash(hash, row.hash)) return false;
    this.verified.set(hash, Date.now() + this.cacheMs);
    void this.keys.touch(row.id).catch(() => undefined);
    return true;
  }
}
