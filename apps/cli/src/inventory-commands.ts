import { check, type InventoryImage, type InventoryVulnerability, type ScanqClient } from '@scanq/client';
import { listImagesQuerySchema, listVulnerabilitiesQuerySchema, SEVERITIES, type Severity, vulnerabilitySummaryQuerySchema } from '@scanq/core';
import { type Command, Option } from 'commander';
import { badInput, type Context, contextFor, defined, printJson } from './command-context.js';
import type { CliIo } from './io.js';
import { severityColor, table, truncate } from './render.js';

/**
 * The inventory from the terminal: `scanq vulns CVE-…` (where is it, across every cloud),
 * `scanq images --severity critical`, `scanq summary`; `--output csv|json` for export.
 */

type Output = 'table' | 'csv' | 'json';
const outputOption = () => new Option('--output <format>', 'table, csv or json (every page is fetched for csv and json)').choices(['table', 'csv', 'json']).default('table');

/** RFC 4180: fields with a comma, quote or line break are quoted, quotes doubled. */
const csvCell = (v: unknown): string => {
  const s = v === null || v === undefined ? '' : Array.isArray(v) ? v.join(' ') : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
const csv = (headers: string[], rows: unknown[][]) => [headers, ...rows].map((r) => r.map(csvCell).join(',')).join('\n');

const outputOf = (ctx: Context, output: string): Output => (ctx.json ? 'json' : (output as Output));

/** Checks the query with the API's own schema before sending: bad input exits 2 naming the flag's field. */
function checked<T>(ctx: Context, schema: Parameters<typeof check>[0], query: Record<string, unknown>): T {
  const r = check(schema, defined(query), 'querystring');
  if (!r.ok) badInput(ctx, r.issues);
  return r.value as T;
}

async function collect<T>(iterate: AsyncGenerator<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterate) out.push(item);
  return out;
}

const filterOptions = (cmd: Command) =>
  cmd
    .option('--provider <provider>', 'aws, alibaba, tencent or huawei')
    .option('--account <name>', 'account name or id')
    .option('--registry <registry>', 'registry, exactly as scanq reports it')
    .option('--repository <repository>', 'repository, exactly as scanq reports it');

export function addInventoryCommands(program: Command, io: CliIo): void {
  filterOptions(
    program
      .command('vulns')
      .description('where a vulnerability is now, across every cloud: each with the images it affects (their latest scan)')
      .argument('[cve]', 'a vulnerability id: CVE-…, or a cloud id (ALAS-…, RHSA-…, AVD-…, CNVD-…) mapped to one')
      .option('--package <name>', 'only findings in this package')
      .option('--severity <list>', `comma list: ${SEVERITIES.join(', ')}`)
      .option('--fixable <bool>', 'true: only with a fixed version; false: only without'),
  )
    .option('--limit <n>', 'vulnerabilities per page', '50')
    .addOption(outputOption())
    .action(async (cve: string | undefined, opts: Record<string, string>, cmd: Command) => {
      const ctx = contextFor(io, cmd);
      const output = outputOf(ctx, opts.output!);
      const query = checked<Parameters<ScanqClient['listVulnerabilities']>[0]>(ctx, listVulnerabilitiesQuerySchema, {
        cve, package: opts.package, severity: opts.severity, fixable: opts.fixable, provider: opts.provider, account: opts.account,
        registry: opts.registry, repository: opts.repository, limit: opts.limit, images: '200',
      });
      const client = ctx.client();
      // A table shows one page; an export follows every page.
      const items: InventoryVulnerability[] = output === 'table' ? (await client.listVulnerabilities(query)).items : await collect(client.iterateVulnerabilities(query));
      if (output === 'json') return printJson(io, items);
      const rows = items.flatMap((v) => v.images.map((i) => ({ v, i })));
      if (output === 'csv') {
        io.out(`${csv(['vulnerability', 'severity', 'score', 'cvss_vector', 'provider', 'account', 'registry', 'repository', 'digest', 'tags', 'package', 'installed', 'fixed', 'last_scanned_at'],
          rows.map(({ v, i }) => [v.id, i.severity, v.score, v.cvssVector, i.provider, i.account, i.registry, i.repository, i.digest, i.tags, i.packageName, i.installedVersion, i.fixedVersion, i.lastScannedAt]))}\n`);
        return;
      }
      if (items.length === 0) return io.out(`${cve ? `${cve}: ` : ''}no image is affected now\n`);
      io.out(`${table(ctx.c, ['VULNERABILITY', 'SEVERITY', 'PROVIDER', 'ACCOUNT', 'REPOSITORY', 'TAGS', 'DIGEST', 'PACKAGE', 'INSTALLED', 'FIXED'],
        rows.map(({ v, i }) => [v.id, severityColor(ctx.c, i.severity as Severity)(i.severity), i.provider, i.account, truncate(i.repository, 40), truncate(i.tags.join(','), 24), i.digest.slice(0, 19), truncate(i.packageName ?? '', 24), truncate(i.installedVersion ?? '', 20), i.fixedVersion ? ctx.c.green(truncate(i.fixedVersion, 20)) : ctx.c.dim('—')]))}\n`);
      for (const v of items) if (v.imageCount > v.images.length) io.out(ctx.c.dim(`${v.id}: ${v.imageCount - v.images.length} more images (scanq images --cve ${v.id})\n`));
    });

  filterOptions(
    program
      .command('images')
      .description('images (by digest) with their current severity counts and last scan')
      .option('--severity <severity>', `at least this severe: ${SEVERITIES.join(', ')} (any case)`)
      .option('--cve <id>', 'only images whose current findings include this vulnerability'),
  )
    .option('--limit <n>', 'images per page', '50')
    .addOption(outputOption())
    .action(async (opts: Record<string, string>, cmd: Command) => {
      const ctx = contextFor(io, cmd);
      const output = outputOf(ctx, opts.output!);
      const query = checked<Parameters<ScanqClient['listImages']>[0]>(ctx, listImagesQuerySchema, {
        minSeverity: opts.severity, hasCve: opts.cve, provider: opts.provider, account: opts.account, registry: opts.registry, repository: opts.repository, limit: opts.limit,
      });
      const client = ctx.client();
      const items: InventoryImage[] = output === 'table' ? (await client.listImages(query)).items : await collect(client.iterateImages(query));
      if (output === 'json') return printJson(io, items);
      if (output === 'csv') {
        io.out(`${csv(['image_id', 'provider', 'account', 'registry', 'repository', 'digest', 'tags', ...SEVERITIES.map((s) => s.toLowerCase()), 'fixable', 'last_scan_id', 'last_scanned_at'],
          items.map((i) => [i.id, i.provider, i.account, i.registry, i.repository, i.digest, i.tags, ...SEVERITIES.map((s) => i.severityCounts[s]), i.fixable, i.lastScan.scanId, i.lastScan.scannedAt]))}\n`);
        return;
      }
      io.out(`${table(ctx.c, ['PROVIDER', 'ACCOUNT', 'REPOSITORY', 'TAGS', 'DIGEST', 'CRIT', 'HIGH', 'MED', 'LOW', 'FIXABLE', 'SCANNED'],
        items.map((i) => [i.provider, i.account, truncate(i.repository, 40), truncate(i.tags.join(','), 24), i.digest.slice(0, 19), String(i.severityCounts.CRITICAL), String(i.severityCounts.HIGH), String(i.severityCounts.MEDIUM), String(i.severityCounts.LOW), String(i.fixable), i.lastScan.scannedAt]))}\n`);
    });

  program
    .command('summary')
    .description('current findings by severity × provider × account, the top vulnerabilities by images affected, the fixable share')
    .option('--provider <provider>', 'aws, alibaba, tencent or huawei')
    .option('--account <name>', 'account name or id')
    .option('--top <n>', 'top vulnerabilities listed', '10')
    .addOption(outputOption())
    .action(async (opts: Record<string, string>, cmd: Command) => {
      const ctx = contextFor(io, cmd);
      const output = outputOf(ctx, opts.output!);
      const query = checked<Parameters<ScanqClient['vulnerabilitySummary']>[0]>(ctx, vulnerabilitySummaryQuerySchema, { provider: opts.provider, account: opts.account, top: opts.top });
      const s = await ctx.client().vulnerabilitySummary(query);
      if (output === 'json') return printJson(io, s);
      const byAccount = s.byAccount.map((a) => [a.provider, a.account, a.images, ...SEVERITIES.map((sev) => a.severityCounts[sev]), a.fixable]);
      if (output === 'csv') {
        io.out(`${csv(['provider', 'account', 'images', ...SEVERITIES.map((x) => x.toLowerCase()), 'fixable'], byAccount)}\n`);
        return;
      }
      io.out(`${s.images} images, ${s.findings} current findings, ${(s.fixableShare * 100).toFixed(1)}% fixable\n\n`);
      io.out(`${table(ctx.c, ['PROVIDER', 'ACCOUNT', 'IMAGES', 'CRIT', 'HIGH', 'MED', 'LOW', 'INFO', 'UNKN', 'FIXABLE'], byAccount.map((r) => r.map(String)))}\n\n`);
      io.out(`${table(ctx.c, ['TOP VULNERABILITY', 'SEVERITY', 'SCORE', 'IMAGES'], s.topVulnerabilities.map((v) => [v.id, severityColor(ctx.c, v.severity as Severity)(v.severity), v.score === null ? '' : v.score.toFixed(1), String(v.images)]))}\n`);
    });
}
