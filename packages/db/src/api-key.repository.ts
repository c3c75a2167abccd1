import type { Db } from './client.js';
import { Prisma, type ApiKey } from './generated/prisma/client.js';

/** API keys: rows hold a lookup prefix and the key's SHA-256, never the key. */
export class ApiKeyRepository {
  constructor(private readonly db: Db) {}

  /** `null` when the name is taken. */
  async create(input: { name: string; prefix: string; hash: string }): Promise<ApiKey | null> {
    try {
      return await this.db.apiKey.create({ data: input });
    } catch (err) {
      if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') return null;
      throw err;
    }
  }

  findActiveByPrefix(prefix: string): Promise<ApiKey | null> {
    return this.db.apiKey.findFirst({ where: { prefix, revokedAt: null } });
  }

  list(): Promise<ApiKey[]> {
    return this.db.apiKey.findMany({ orderBy: { name: 'asc' } });
  }

  async revoke(name: string): Promise<boolean> {
    return (await this.db.apiKey.updateMany({ where: { name, revokedAt: null }, data: { revokedAt: new Date() } })).count === 1;
  }

  touch(id: string): Promise<unknown> {
    return this.db.apiKey.updateMany({ where: { id }, data: { lastUsedAt: new Date() } });
  }
}
