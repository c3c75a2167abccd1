import { readFile } from 'node:fs/promises';
import { type ApiIssue, type ApplyAccountsResult, check } from '@scanq/client';
import { applyAccountsSchema } from '@scanq/core';
import type { Command } from 'commander';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import { badInput, type Context, printJson } from './command-context.js';
import type { CliIo } from './io.js';

/**
 * `scanq accounts apply -f accounts.yaml`: the file is the desired set of accounts — a list of
 * account bodies (as `accounts add` takes them, plus `labels`), or `{ accounts: [...], prune }`.
 * The whole file is checked here and by the API before anything changes (each problem names the
 * entry's index, the field, the rule and the file's line), then applied in one transaction.
 */
export function addAccountsApplyCommand(accounts: Command, io: CliIo, context: (cmd: Command) => Context): void {
  accounts
    .command('apply')
    .description('create, update and (with --prune) delete accounts to match an accounts file (YAML or JSON), in one transaction')
    .requiredOption('-f, --file <path>', 'accounts file: a list of accounts, or { accounts: [...], prune: true }')
    .option('--dry-run', 'print what would be created, updated, deleted or left unchanged; change nothing')
    .option('--prune', 'delete accounts the file does not list (also `prune: true` in the file); accounts with scans are never deleted')
    .action(async (opts: { file: string; dryRun?: boolean; prune?: boolean }, cmd: Command) => {
      const ctx = context(cmd);
      let text: string;
      try {
        text = await readFile(opts.file, 'utf8');
      } catch (err) {
        return badInput(ctx, [{ field: '--file', rule: 'readable', message: `cannot read ${opts.file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` }]);
      }
      const lines = new LineCounter();
      const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
      if (doc.errors.length > 0) {
        return badInput(ctx, doc.errors.map((e) => ({ field: `${opts.file}:${e.linePos?.[0]?.line ?? '?'}`, rule: 'yaml', message: e.message.split('\n')[0] ?? e.message })));
      }
      const parsed: unknown = doc.toJS();
      const wrapped = isSeq(doc.contents) || parsed === null;
      const fileBody = wrapped ? { accounts: parsed ?? [] } : parsed;
      if (!wrapped && !isMap(doc.contents)) return badInput(ctx, [{ field: opts.file, rule: 'type', message: 'must be a list of accounts, or a map with `accounts` (and `prune`)' }]);
      const body = { ...(fileBody as Record<string, unknown>), ...(opts.prune ? { prune: true } : {}), ...(opts.dryRun ? { dryRun: true } : {}) };
      const checked = check(applyAccountsSchema, body);
      if (!checked.ok) return badInput(ctx, checked.issues.map((i) => withLine(i, doc, lines, wrapped, opts.file)));
      const result = await ctx.client().applyAccounts(checked.value);
      if (ctx.json) return printJson(io, result);
      io.out(renderResult(ctx, result));
    });
}

/** An issue about `body.accounts.3.region` with where it is in the file: `(accounts.yaml line 14)`. */
function withLine(issue: ApiIssue, doc: ReturnType<typeof parseDocument>, lines: LineCounter, wrapped: boolean, file: string): ApiIssue {
  const path = issue.field.replace(/^body\.?/, '').split('.').filter(Boolean).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const inFile = wrapped && path[0] === 'accounts' ? path.slice(1) : path;
  for (let n = inFile.length; n >= 0; n--) {
    const node = doc.getIn(inFile.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return { ...issue, message: `${issue.message} (${file} line ${lines.linePos(node.range[0]).line})` };
  }
  return issue;
}

function renderResult(ctx: Context, r: ApplyAccountsResult): string {
  const verb = r.dryRun ? { create: 'would create', update: 'would update', delete: 'would delete', unchanged: 'unchanged' } : { create: 'created', update: 'updated', delete: 'deleted', unchanged: 'unchanged' };
  const colour = { create: ctx.c.green, update: ctx.c.yellow, delete: ctx.c.red, unchanged: ctx.c.dim };
  const out = r.changes.map((ch) => `${colour[ch.action](verb[ch.action].padEnd(13))} ${ch.provider}/${ch.name}${ch.fields.length ? ctx.c.dim(` (${ch.fields.join(', ')})`) : ''}\n`);
  for (const u of r.unlisted) out.push(`${ctx.c.dim('not in file'.padEnd(13))} ${u.provider}/${u.name} ${ctx.c.dim('(kept; --prune deletes it)')}\n`);
  const c = r.counts;
  out.push(`${r.dryRun ? 'dry run: ' : ''}${c.create} to create, ${c.update} to update, ${c.delete} to delete, ${c.unchanged} unchanged${r.dryRun ? ' (nothing changed)' : ''}\n`);
  return out.join('');
}
