import type { QuotaView } from '@scanq/client';
import { PROVIDERS } from '@scanq/core';
import type { Command } from 'commander';
import { badInput, type Context, contextFor, printJson } from './command-context.js';
import type { CliIo } from './io.js';
import { table, truncate } from './render.js';

const inFrom = (iso: string | null) => (iso ? `${Math.max(0, Math.round((Date.parse(iso) - Date.now()) / 1000))} s` : '—');

/** One line per account: what is in use against what the cloud allows, and when room opens. */
function quotaCells(ctx: Context, v: QuotaView): [string, string] {
  const q = v.quota;
  switch (q.kind) {
    case 'concurrency_slots': {
      const used = `${q.inUse}${q.external ? `+${q.external} outside` : ''}/${q.limit} tasks`;
      return [q.free === 0 ? ctx.c.yellow(used) : used, `${q.waiting} waiting; ${q.earliestLeaseExpiryAt ? `a lease lapses in ${inFrom(q.earliestLeaseExpiryAt)} at the latest` : 'no slot held'}`];
    }
    case 'scan_once_window':
      return [`${q.imagesInWindow} images in their ${q.windowHours} h window`, q.nextOpening[0] ? `next opens ${q.nextOpening[0].opensAt} (${truncate(q.nextOpening[0].repository, 30)})` : 'none waiting'];
    case 'sliding_window': {
      const busiest = [...q.apis].sort((a, b) => b.lastSecond - a.lastSecond)[0];
      // The cloud allows limitPerSec in any second; the workers keep to that many per windowMs.
      const rate = `${busiest?.lastSecond ?? 0}/${q.limitPerSec} req/s (workers keep ≤ ${q.limitPerSec} per ${q.windowMs} ms)`;
      return [rate, busiest ? `busiest API ${busiest.api}, ${busiest.waiting} waiting; ${q.apis.length} APIs used` : 'idle'];
    }
    case 'batch':
      return [`≤ ${q.maxImagesPerCall} images per batch-scan call`, ''];
  }
}

/** `scanq quota [--provider p] [--watch]`: the live quota view (GET /v1/quotas). */
export function addQuotaCommand(program: Command, io: CliIo): void {
  program
    .command('quota')
    .description('each account’s quota right now: Alibaba slots in use of 10, AWS images inside their 24 h window, Tencent requests in the last second of 20')
    .option('--provider <provider>', PROVIDERS.join(', '))
    .action(async (opts: { provider?: string }, cmd: Command) => {
      const ctx = contextFor(io, cmd);
      if (opts.provider !== undefined && !(PROVIDERS as readonly string[]).includes(opts.provider)) {
        badInput(ctx, [{ field: 'querystring.provider', rule: 'one_of', message: `must be one of ${PROVIDERS.join(', ')}` }]);
      }
      const items = await ctx.client().getQuotas(opts.provider ? { provider: opts.provider as (typeof PROVIDERS)[number] } : {});
      if (ctx.json) return printJson(io, items);
      io.out(`${table(ctx.c, ['ACCOUNT', 'PROVIDER', 'IN USE', 'DETAIL'], items.map((v) => [v.account, v.provider, ...quotaCells(ctx, v)]))}\n`);
    });
}
