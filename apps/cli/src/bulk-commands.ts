import type { Command } from 'commander';
import { addSelectorOptions, type BulkFlags, buildBulkRequest, selectorSummary } from './bulk-request.js';
import { bulkAllSucceeded, bulkLines, finishedOf, watchBulk } from './bulk-watch.js';
import { badInput, type Context, contextFor, intervalOption, isUuid, printJson, requireId } from './command-context.js';
import { CliExit, type CliIo, ExitCode } from './io.js';
import { shortTime, statusColor, table, truncate } from './render.js';
import { resolveSchedule } from './schedule-commands.js';

/** Watches a bulk scan to its end; exit 0 when it succeeded with every account listed and no failed or cancelled image, else 1. */
async function watchAndExit(ctx: Context, id: string, intervalMs: number): Promise<void> {
  const bulk = await watchBulk(ctx.client(), id, ctx.io, ctx.c, { intervalMs, json: ctx.json });
  if (ctx.json) printJson(ctx.io, bulk);
  if (!bulkAllSucceeded(bulk)) throw new CliExit(ExitCode.ScanFailed);
}

/** `scanq bulk …`: create (the default), watch, ls, cancel. */
export function addBulkCommands(program: Command, io: CliIo): void {
  const bulk = program
    .command('bulk')
    .description('scan a selection of images at once: `scanq bulk --provider aws --repository team/app --watch`; also bulk watch|ls|cancel');

  addSelectorOptions(
    bulk
      .command('create', { isDefault: true })
      .description('request a bulk scan (the default: `scanq bulk <flags>`); list flags repeat or take a comma list'),
  )
    .option('--force', 're-scan images the 24 h rule or --skip-scanned-within would skip')
    .option('--timeout <seconds>', 'per-scan deadline (timeoutSeconds)')
    .option('--webhook-url <url>', 'receives the one completion event of the bulk scan')
    .option('--watch', 'follow it until it ends; exit 0 all succeeded, 1 any failed or cancelled')
    .addOption(intervalOption())
    .action(async (flags: BulkFlags & { watch?: boolean; interval: string }, cmd: Command) => {
      const ctx = contextFor(io, cmd);
      const built = buildBulkRequest(flags);
      if (!built.ok) badInput(ctx, built.issues);
      const created = await ctx.client().createBulkScan(built.request);
      if (flags.watch) {
        if (!ctx.json) io.out(`bulk scan ${created.id} ${created.status}: ${selectorSummary(created.selector)}\n`);
        return watchAndExit(ctx, created.id, Number(flags.interval));
      }
      if (ctx.json) return printJson(io, created);
      io.out(`bulk scan ${ctx.c.bold(created.id)} ${statusColor(ctx.c, created.status)(created.status)}: ${selectorSummary(created.selector)}\n`);
      io.out(ctx.c.dim(`follow it with: scanq bulk watch ${created.id}\n`));
    });

  bulk
    .command('watch')
    .description('live progress (finished/planned, per provider, ETA) until it ends; exit 0 all succeeded, 1 any failed or cancelled')
    .argument('<bulkScanId>')
    .addOption(intervalOption())
    .action(async (id: string, opts: { interval: string }, cmd: Command) => {
      const ctx = contextFor(io, cmd);
      requireId(ctx, 'bulkScanId', id, 'bulk scan');
      await watchAndExit(ctx, id, Number(opts.interval));
    });

  bulk
    .command('ls')
    .description('list bulk scans, newest first')
    .option('--schedule <nameOrId>', 'only those a schedule created')
    .option('--limit <n>', 'how many (1–200)', '20')
    .option('--cursor <cursor>', 'continue after a previous listing')
    .action(async (opts: { schedule?: string; limit: string; cursor?: string }, cmd: Command) => {
      const ctx = contextFor(io, cmd);
      const limit = Number(opts.limit);
      if (!/^\d+$/.test(opts.limit) || limit < 1 || limit > 200) badInput(ctx, [{ field: 'querystring.limit', rule: 'range', message: 'must be a whole number 1–200' }]);
      if (opts.cursor !== undefined && !isUuid(opts.cursor)) badInput(ctx, [{ field: 'querystring.cursor', rule: 'cursor', message: 'is not a cursor from a previous page' }]);
      const client = ctx.client();
      const scheduleId = opts.schedule === undefined ? undefined : (await resolveSchedule(client, opts.schedule)).id;
      const page = await client.listBulkScans({ limit, cursor: opts.cursor, scheduleId });
      if (ctx.json) return printJson(io, page);
      const { c } = ctx;
      io.out(
        `${table(
          c,
          ['ID', 'STATUS', 'DONE', 'OK', 'FAILED', 'SKIPPED', 'SELECTOR', 'SCHEDULE', 'CREATED'],
          page.items.map((b) => [
            b.id,
            statusColor(c, b.status)(b.status),
            b.status === 'planning' ? c.dim('planning') : `${finishedOf(b.totals)}/${b.totals.planned}`,
            String(b.totals.succeeded),
            `${b.totals.failed ? c.red(String(b.totals.failed)) : '0'}${b.planErrors.length ? c.red(` +${b.planErrors.length} account${b.planErrors.length === 1 ? '' : 's'} unlisted`) : ''}`,
            String(b.totals.skipped),
            truncate(selectorSummary(b.selector), 48),
            b.scheduleId ? b.scheduleId.slice(0, 8) : c.dim('—'),
            shortTime(b.createdAt),
          ]),
        )}\n`,
      );
      if (page.nextCursor) io.out(c.dim(`more: scanq bulk ls --cursor ${page.nextCursor}\n`));
    });

  bulk
    .command('cancel')
    .description('cancel a bulk scan: queued images end cancelled, images already scanning at the cloud finish')
    .argument('<bulkScanId>')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(io, cmd);
      requireId(ctx, 'bulkScanId', id, 'bulk scan');
      const cancelled = await ctx.client().cancelBulkScan(id);
      if (ctx.json) return printJson(io, cancelled);
      io.out(`${bulkLines(ctx.c, cancelled).join('\n')}\n`);
    });
}
