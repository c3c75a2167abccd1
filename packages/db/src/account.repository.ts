import type { CreateAccountRequest, Provider } from '@scanq/core';
import type { Db } from './client.js';
import { Prisma, type CloudAccount } from './generated/prisma/client.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class AccountRepository {
  constructor(private readonly db: Db) {}

  create(input: CreateAccountRequest): Promise<CloudAccount> {
    return this.db.cloudAccount.create({
      data: { ...input, settings: (input.settings ?? {}) as Prisma.InputJsonValue },
    });
  }

  /** Creates or updates by (provider, name): used to seed demo accounts idempotently. */
  upsertByName(input: CreateAccountRequest): Promise<CloudAccount> {
    const settings = (input.settings ?? {}) as Prisma.InputJsonValue;
    return this.db.cloudAccount.upsert({
      where: { provider_name: { provider: input.provider, name: input.name } },
      create: { ...input, settings },
      update: { region: input.region, endpoint: input.endpoint ?? null, credentialRef: input.credentialRef, settings },
    });
  }

  list(provider?: Provider): Promise<CloudAccount[]> {
    return this.db.cloudAccount.findMany({ where: provider ? { provider } : {}, orderBy: { name: 'asc' } });
  }

  get(id: string): Promise<CloudAccount | null> {
    return this.db.cloudAccount.findUnique({ where: { id } });
  }

  /** An account by id or by name, for the given provider. */
  findByRef(provider: Provider, ref: string): Promise<CloudAccount | null> {
    return this.db.cloudAccount.findFirst({
      where: UUID.test(ref) ? { provider, OR: [{ id: ref }, { name: ref }] } : { provider, name: ref },
    });
  }
}
