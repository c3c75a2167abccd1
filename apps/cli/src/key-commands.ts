import { loadConfig } from '@scanq/core';
import type { Command } from 'commander';
import { badInput, contextFor, printJson } from './command-context.js';
import { CliExit, type CliIo, ExitCode } from './io.js';
import { shortTime, table } from './render.js';

const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$/;

/**
 * Opens the key store in Postgres (DATABASE_URL), like `migrate`: the first key cannot be made
 * through an API that needs a key. Loaded on use only, so the other commands never load the
 * database layer.
 */
async function withKeyStore<T>(io: CliIo, use: (store: { service: import('@scanq/scans').ApiKeyService; repository: import('@scanq/db').ApiKeyRepository }) => Promise<T>): Promise<T> {
  const config = loadConfig(io.env);
  const [{ createDb, ApiKeyRepository }, { ApiKeyService }] = await Promise.all([import('@scanq/db'), import('@scanq/scans')]);
  const db = createDb(config.databaseUrl, { max: 1 });
  try {
    const repository = new ApiKeyRepository(db);
    // No bootstrap key here: this service only creates and revokes stored keys.
    return await use({ service: new ApiKeyService(repository, undefined), repository });
  } catch (err) {
    // Prisma's messages quote the calling source; the last line is the reason.
    const reason = (err as Error).message.trim().split('\n').at(-1)?.trim();
    throw new Error(`the key store (DATABASE_URL) answered: ${reason}`, { cause: err });
  } finally {
    await db.$disconnect();
  }
}

/** `scanq keys …`: API keys for /v1, straight in Postgres. A key is shown once, at creation. */
export function addKeyCommands(program: Command, io: CliIo): void {
  const keys = program.command('keys').description('API keys for /v1 (talks to Postgres through DATABASE_URL, not the API)');

  keys
    .command('create')
    .description('create a key and print it once (only its SHA-256 is stored)')
    .argument('<name>', 'unique; letters, digits, . _ @ -')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(io, cmd);
      if (!KEY_NAME.test(name)) badInput(ctx, [{ field: 'name', rule: 'pattern', message: 'must be 1–100 letters, digits, . _ @ - starting with a letter or digit' }]);
      const created = await withKeyStore(io, ({ service }) => service.create(name));
      if (!created) throw new CliExit(ExitCode.BadInput, `a key named "${name}" exists (names stay taken after revocation)`, 'conflict');
      if (ctx.json) return printJson(io, created);
      io.out(`${created.key}\n`);
      io.err(ctx.c.dim(`key "${name}" created; it is shown only this once. Use it as SCANQ_API_KEY or --api-key.\n`));
    });

  keys
    .command('ls')
    .description('list keys: name, prefix, created, last used, revoked (never the key)')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = contextFor(io, cmd);
      const rows = await withKeyStore(io, ({ repository }) => repository.list());
      const items = rows.map((k) => ({
        name: k.name,
        prefix: k.prefix,
        createdAt: k.createdAt.toISOString(),
        lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
        revokedAt: k.revokedAt?.toISOString() ?? null,
      }));
      if (ctx.json) return printJson(io, items);
      const { c } = ctx;
      io.out(
        `${table(
          c,
          ['NAME', 'PREFIX', 'CREATED', 'LAST USED', 'REVOKED'],
          items.map((k) => [k.name, `scanq_${k.prefix}_…`, shortTime(k.createdAt), k.lastUsedAt ? shortTime(k.lastUsedAt) : c.dim('never'), k.revokedAt ? c.red(shortTime(k.revokedAt)) : c.dim('—')]),
        )}\n`,
      );
    });

  keys
    .command('revoke')
    .description('revoke a key: /v1 refuses it from then on (an API process may accept it for up to 10 s more, its verification cache)')
    .argument('<name>')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(io, cmd);
      const revoked = await withKeyStore(io, ({ service }) => service.revoke(name));
      if (!revoked) throw new CliExit(ExitCode.Error, `no active key named "${name}"`, 'not_found');
      if (ctx.json) return printJson(io, { name, revoked: true });
      io.out(`revoked key ${ctx.c.bold(name)}\n`);
    });
}
