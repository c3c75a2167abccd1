import type { ApplyAccountEntry, CreateAccountRequest, PatchAccountRequest, Provider } from '@scanq/core';
import type { Db } from './client.js';
import { Prisma, type CloudAccount } from './generated/prisma/client.js';
import { UUID_TEXT as UUID } from './sql.js';

/** A credentials block as its column holds it: SQL NULL for none (static), else the block (names a source, no secret). */
const credentialsColumn = (block: Record<string, unknown> | null | undefined) => (block ? (block as Prisma.InputJsonValue) : Prisma.DbNull);

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
      data: { ...input, settings: (input.settings ?? {}) as Prisma.InputJsonValue, credentials: credentialsColumn(input.credentials) },
    });
  }

  /** Changes what `patch` names; null when there is no such account. */
  async update(id: string, patch: PatchAccountRequest): Promise<CloudAccount | null> {
    this.cache.clear();
    const { settings, credentials, ...rest } = patch;
    const { count } = await this.db.cloudAccount.updateMany({
      where: { id },
      data: { ...rest, ...(settings ? { settings: settings as Prisma.InputJsonValue } : {}), ...(credentials !== undefined ? { credentials: credentialsColumn(credentials) } : {}) },
    });
    return count === 1 ? this.db.cloudAccount.findUnique({ where: { id } }) : null;
  }

  /** Creates or updates by (provider, name): used to seed demo accounts idempotently. */
  upsertByName(input: CreateAccountRequest): Promise<CloudAccount> {
    this.cache.clear();
    const settings = (input.settings ?? {}) as Prisma.InputJsonValue;
    return this.db.cloudAccount.upsert({
      where: { provider_name: { provider: input.provider, name: input.name } },
      create: { ...input, settings, credentials: credentialsColumn(input.credentials) },
      update: { region: input.region, endpoint: input.endpoint ?? null, credentialRef: input.credentialRef, settings, credentials: credentialsColumn(input.credentials) },
    });
  }

  /**
   * One accounts file applied in one transaction, under a transaction-scoped advisory lock (two
   * applies run one after the other, each diffing what the other left). `plan` turns the current
   * accounts into the changes; pruned accounts that still have scans are refused as a whole
   * (nothing changes) with their scan counts. `dryRun`: planned and checked, never written.
   */
  async applySet(plan: (current: CloudAccount[]) => AccountChangeSet, dryRun: boolean): Promise<{ changes: AccountChangeSet; created: CloudAccount[] }> {
    this.cache.clear();
    try {
      return await this.db.$transaction(async (tx) => {
        await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${APPLY_LOCK_KEY})`);
        const changes = plan(await tx.cloudAccount.findMany({ orderBy: [{ provider: 'asc' }, { name: 'asc' }] }));
        if (changes.delete.length > 0) {
          const inUse = await tx.scan.groupBy({ by: ['accountId'], where: { accountId: { in: changes.delete.map((a) => a.id) } }, _count: { _all: true } });
          if (inUse.length > 0) {
            const counts = new Map(inUse.map((g) => [g.accountId, g._count._all]));
            throw new AccountsInUseError(changes.delete.filter((a) => counts.has(a.id)).map((a) => ({ ...a, scans: counts.get(a.id)! })));
          }
        }
        if (dryRun) return { changes, created: [] };
        const created = changes.create.length > 0 ? await tx.cloudAccount.createManyAndReturn({ data: changes.create.map(accountData) }) : [];
        for (const { id, entry } of changes.update) {
          const { provider: _p, name: _n, ...data } = accountData(entry);
          await tx.cloudAccount.update({ where: { id }, data });
        }
        if (changes.delete.length > 0) {
          // Windows are per image and account; with no scans left they hold no history.
          await tx.imageScanWindow.deleteMany({ where: { accountId: { in: changes.delete.map((a) => a.id) } } });
          await tx.cloudAccount.deleteMany({ where: { id: { in: changes.delete.map((a) => a.id) } } });
        }
        return { changes, created };
        // A file of a thousand accounts is a thousand updates: well past Prisma's 5 s default.
      }, { maxWait: APPLY_TX_MAX_WAIT_MS, timeout: APPLY_TX_TIMEOUT_MS });
    } finally {
      this.cache.clear();
    }
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

/** How long an apply may wait for a connection, and run (its statements and the lock wait of a concurrent apply). */
const APPLY_TX_MAX_WAIT_MS = 10_000;
const APPLY_TX_TIMEOUT_MS = 120_000;

/** Transaction-scoped advisory lock key of `applySet` (any constant no other lock uses). */
const APPLY_LOCK_KEY = 0x5ca9acc7;

/** What one apply changes: accounts to create, to update (by id), to delete. */
export interface AccountChangeSet {
  create: ApplyAccountEntry[];
  update: { id: string; entry: ApplyAccountEntry; fields: string[] }[];
  delete: { id: string; provider: Provider; name: string }[];
  unchanged: CloudAccount[];
  /** Accounts the file does not list, kept (prune not asked). */
  unlisted: CloudAccount[];
}

/** Pruning refused: these accounts still have scans (their history would go with them). */
export class AccountsInUseError extends Error {
  constructor(readonly accounts: { id: string; provider: Provider; name: string; scans: number }[]) {
    super(`cannot prune ${accounts.map((a) => `${a.provider} account "${a.name}" (${a.scans} scan${a.scans === 1 ? '' : 's'})`).join(', ')}: accounts with scans keep their history; remove them from the prune or keep them in the file`);
  }
}

/**
 * An entry as the row it sets: every field of the create body as given (the same as `create`),
 * the ones it leaves out at their defaults, so an update makes the row exactly what the file says.
 */
function accountData(entry: ApplyAccountEntry) {
  return {
    ...entry,
    endpoint: entry.endpoint ?? null,
    settings: (entry.settings ?? {}) as Prisma.InputJsonValue,
    labels: (entry.labels ?? {}) as Prisma.InputJsonValue,
    credentials: credentialsColumn(entry.credentials),
  };
}
