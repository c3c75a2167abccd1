import type { CreateAccountRequest, PatchAccountRequest, Provider } from '@scanq/core';
import type { Db } from './client.js';
import { Prisma, type CloudAccount } from './generated/prisma/client.js';
import { UUID_TEXT as UUID } from './sql.js';


/**
 * Cloud accounts. Every job and submission reads its account, and accounts change rarely, so
 * found accounts are cached for `cacheTtlMs` (misses never are: a new account is seen at once).
 */
export class AccountRepository {
  private readonly cache = new Map<string, { account: CloudAccount; until: number }>();

  constructor(
    private readonly db: Db,
    private readonly cacheTtlMs = 5_000,
  ) {}

  private cached(key: string): CloudAccount | undefined {
    const hit = this.cache.get(key);
    if (hit && hit.until > Date.now()) return hit.account;
    this.cache.delete(key);
    return undefined;
  }

  private remember(key: string, account: CloudAccount | null): CloudAccount | null {
    if (account && this.cacheTtlMs > 0) this.cache.set(key, { account, until: Date.now() + this.cacheTtlMs });
    return account;
  }

  async create(input: CreateAccountRequest): Promise<CloudAccount> {
    this.cache.clear();
    return this.db.cloudAccount.create({
      data: { ...input, settings: (input.settings ?? {}) as Prisma.InputJsonValue },
    });
  }

  /** Changes what `patch` names; null when there is no such account. */
  async update(id: string, patch: PatchAccountRequest): Promise<CloudAccount | null> {
    this.cache.clear();
    const { settings, ...rest } = patch;
    const { count } = await this.db.cloudAccount.updateMany({ where: { id }, data: { ...rest, ...(settings ? { settings: settings as Prisma.InputJsonValue } : {}) } });
    return count === 1 ? this.db.cloudAccount.findUnique({ where: { id } }) : null;
  }

  /** Creates or updates by (provider, name): used to seed demo accounts idempotently. */
  upsertByName(input: CreateAccountRequest): Promise<CloudAccount> {
    this.cache.clear();
    const settings = (input.settings ?? {}) as Prisma.InputJsonValue;
    return this.db.cloudAccount.upsert({
      where: { provider_name: { provider: input.provider, name: input.name } },
      create: { ...input, settings },
      update: { region: input.region, endpoint: input.endpoint ?? null, credentialRef: input.credentialRef, settings },
    });
  }

  /**
   * upsertByName for callers that may race on the same row: API replicas starting together both
   * find no row and both insert; the loser's unique violation means the row is there now, and its
   * second try updates it.
   */
  async upsertByNameConcurrently(input: CreateAccountRequest): Promise<CloudAccount> {
    try {
      return await this.upsertByName(input);
    } catch (err) {
      if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') return this.upsertByName(input);
      throw err;
    }
  }

  list(provider?: Provider): Promise<CloudAccount[]> {
    return this.db.cloudAccount.findMany({ where: provider ? { provider } : {}, orderBy: { name: 'asc' } });
  }

  async get(id: string): Promise<CloudAccount | null> {
    return this.cached(id) ?? this.remember(id, await this.db.cloudAccount.findUnique({ where: { id } }));
  }

  /** An account by id or by name, for the given provider. */
  async findByRef(provider: Provider, ref: string): Promise<CloudAccount | null> {
    const key = `${provider}/${ref}`;
    return (
      this.cached(key) ??
      // An id names one account for sure; only then a name (an account may be named like another's id).
      this.remember(key, (UUID.test(ref) ? await this.db.cloudAccount.findFirst({ where: { provider, id: ref } }) : null) ?? (await this.db.cloudAccount.findUnique({ where: { provider_name: { provider, name: ref } } })))
    );
  }
}
