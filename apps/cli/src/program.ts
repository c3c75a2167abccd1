import { type ApiIssue, check, type Finding, ScanqApiError, ScanqInputError, ScanqNetworkError, ScanqResponseError } from '@scanq/client';
import { ConfigError, createAccountSchema, issuesMessage, isTerminalScanStatus, listFindingsQuerySchema, listScansQuerySchema, loadConfig, PROVIDERS, type Severity } from '@scanq/core';
import { Command, CommanderError } from 'commander';
import { addAccountsApplyCommand } from './accounts-apply-command.js';
import { addBulkCommands } from './bulk-commands.js';
import { badInput, type Context, contextFor, defined, intervalOption, issuesText, printJson, requireId, requireIds, withFlagNames } from './command-context.js';
import { CliExit, type CliIo, ExitCode } from './io.js';
import { addKeyCommands } from './key-commands.js';
import { addQuotaCommand } from './quota-command.js';
import { addInventoryCommands } from './inventory-commands.js';
import { type Colors, colorsFor, scanSubject, severityColor, severitySummary, shortTime, statusColor, table, truncate } from './render.js';
import { buildScanRequest, type ScanFlags } from './scan-request.js';
import { addScheduleCommands } from './schedule-commands.js';
import { watchScans } from './watch.js';

function findingsTable(c: Colors, findings: Finding[]): string {
  return table(
    c,
    ['SEVERITY', 'VULNERABILITY', 'PACKAGE', 'INSTALLED', 'FIXED', 'SCORE', 'TITLE'],
    findings.map((f) => [
      severityColor(c, f.severity as Severity)(f.severity),
      f.vulnerabilityId,
      truncate(f.packageName ?? '', 32),
      truncate(f.installedVersion ?? '', 24),
      f.fixedVersion ? c.green(truncate(f.fixedVersion, 24)) : c.dim('—'),
      f.score === null ? '' : f.score.toFixed(1),
      truncate(f.title ?? '', 60),
    ]),
  );
}

/** The `scanq` command tree. Every command talks to the API through the typed client only (migrate and keys excepted: they are the database's). */
export function createProgram(io: CliIo, options: { commanderErrors?: boolean } = {}): Command {
  const program = new Command();
  program
    .name('scanq')
    .description('Container-image vulnerability scans on four clouds, from the terminal.')
    .option('--api-url <url>', 'scanq API root (env SCANQ_API_URL, default http://127.0.0.1:3000)')
    .option('--api-key <key>', 'API key, sent as a Bearer token (env SCANQ_API_KEY)')
    .option('--json', 'print JSON for scripts instead of tables and bars')
    .exitOverride()
    // writeErr carries commander's usage errors (and help shown for one): off under --json, which prints them as JSON.
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => (options.commanderErrors === false ? undefined : io.err(s)) })
    .showHelpAfterError('(scanq --help for usage)');

  const context = (cmd: Command): Context => contextFor(io, cmd);

  /** Watches and turns the result into the exit code: 0 all succeeded, 1 otherwise. */
  const watchAndExit = async (ctx: Context, ids: string[], intervalMs: number) => {
    const { scans, allSucceeded } = await watchScans(ctx.client(), ids, ctx.io, ctx.c, { intervalMs, json: ctx.json });
    if (ctx.json) printJson(ctx.io, ids.length === 1 ? scans[0] : scans);
    if (!allSucceeded) throw new CliExit(ExitCode.ScanFailed);
  };

  program
    .command('scan')
    .description('request a scan (aws: flags mirror the API; every provider: --target-json / --file with the request body)')
    .argument('<provider>', `one of ${PROVIDERS.join(', ')}`)
    .option('--account <name>', 'configured account name or id')
    .option('--timeout <seconds>', 'give up after this long (timeoutSeconds)')
    .option('--repository <name>', 'aws: ECR repository name (repositoryName)')
    .option('--registry-id <id>', 'aws: 12-digit registry id (registryId)')
    .option('--tag <tag>', 'aws: image tag (imageId.imageTag)')
    .option('--digest <digest>', 'aws: image digest sha256:… (imageId.imageDigest)')
    .option('--target-json <json>', 'request fields as a JSON object, merged under the flags')
    .option('--file <path>', 'the whole request body as a JSON file (- for stdin)')
    .option('--idempotency-key <key>', 'a repeat with the same key returns the first scan')
    .option('--watch', 'follow the scan until it ends; exit 0 succeeded, 1 failed/cancelled')
    .addOption(intervalOption())
    .action(async (provider: string, flags: ScanFlags & { idempotencyKey?: string; watch?: boolean; interval: string }, cmd: Command) => {
      const ctx = context(cmd);
      const built = buildScanRequest(provider, flags);
      if (!built.ok) badInput(ctx, built.issues);
      const { scan, created } = await ctx.client().createScan(built.request, { idempotencyKey: flags.idempotencyKey });
      if (flags.watch) {
        if (!ctx.json) io.out(`${created ? 'queued' : 'already requested (same idempotency key)'}: ${scan.id}\n`);
        return watchAndExit(ctx, [scan.id], Number(flags.interval));
      }
      if (ctx.json) return printJson(io, scan);
      io.out(`${created ? 'queued' : 'already requested (same idempotency key)'}: ${ctx.c.bold(scan.id)}  ${statusColor(ctx.c, scan.status)(scan.status)}\n`);
      io.out(ctx.c.dim(`follow it with: scanq watch ${scan.id}\n`));
    });

  program
    .command('watch')
    .description('live progress bars until each scan ends; exit 0 when all succeeded, 1 when any failed or was cancelled')
    .argument('<scanIds...>', 'one or more scan ids')
    .addOption(intervalOption())
    .action(async (ids: string[], opts: { interval: string }, cmd: Command) => {
      const ctx = context(cmd);
      requireIds(ctx, 'scanIds', ids, 'scan');
      await watchAndExit(ctx, ids, Number(opts.interval));
    });

  program
    .command('ls')
    .description('list scans, newest first')
    .option('--status <status>', 'queued, quota_wait, running, retrying, succeeded, failed, cancelled')
    .option('--provider <provider>', PROVIDERS.join(', '))
    .option('--limit <n>', 'how many (1–500)', '20')
    .option('--cursor <cursor>', 'continue after a previous listing')
    .action(async (opts: { status?: string; provider?: string; limit: string; cursor?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const query = check(listScansQuerySchema, defined(opts), 'querystring');
      if (!query.ok) badInput(ctx, query.issues);
      const page = await ctx.client().listScans(query.value);
      if (ctx.json) return printJson(io, page);
      const { c } = ctx;
      io.out(
        `${table(
          c,
          ['ID', 'PROVIDER', 'STATUS', 'PROGRESS', 'FINDINGS', 'IMAGE', 'CREATED'],
          page.items.map((s) => [s.id, s.provider, statusColor(c, s.status)(s.status), `${s.progress}%`, s.status === 'succeeded' ? severitySummary(c, s.severityCounts) : c.dim('—'), truncate(scanSubject(s), 48), shortTime(s.createdAt)]),
        )}\n`,
      );
      if (page.nextCursor) io.out(c.dim(`more: scanq ls --cursor ${page.nextCursor}\n`));
    });

  program
    .command('findings')
    .description("a scan's findings as a table, most severe first in colour")
    .argument('<scanId>')
    .option('--severity <list>', 'comma list, e.g. critical,high')
    .option('--limit <n>', 'show at most this many', '100')
    .action(async (scanId: string, opts: { severity?: string; limit: string }, cmd: Command) => {
      const ctx = context(cmd);
      const query = check(listFindingsQuerySchema, defined({ severity: opts.severity, limit: opts.limit }), 'querystring');
      if (!query.ok) badInput(ctx, query.issues);
      const client = ctx.client();
      const scan = await client.getScan(scanId);
      const max = query.value.limit;
      const findings: Finding[] = [];
      for await (const f of client.iterateFindings(scanId, { severity: query.value.severity, limit: Math.min(max, 500) })) {
        findings.push(f);
        if (findings.length >= max) break;
      }
      if (ctx.json) return printJson(io, findings);
      const { c } = ctx;
      io.out(`${c.bold(scan.id)}  ${statusColor(c, scan.status)(scan.status)}  ${scanSubject(scan)}  ${severitySummary(c, scan.severityCounts)}\n\n`);
      io.out(findings.length ? `${findingsTable(c, findings)}\n` : `${c.dim('no findings')}\n`);
      const total = query.value.severity ? query.value.severity.reduce((n, s) => n + scan.severityCounts[s], 0) : Object.values(scan.severityCounts).reduce((a, b) => a + b, 0);
      if (total > findings.length) io.out(c.dim(`showing ${findings.length} of ${total}; --limit to see more\n`));
    });

  const ACCOUNT_FLAGS = { provider: '--provider', name: '--name', region: '--region', credentialRef: '--credential-ref', endpoint: '--endpoint', settings: '--settings-json', credentials: '--credentials-json' };
  const accounts = program.command('accounts').description('cloud accounts scans run under');
  accounts
    .command('ls')
    .description('list accounts')
    .option('--provider <provider>', PROVIDERS.join(', '))
    .action(async (opts: { provider?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const provider = opts.provider;
      if (provider !== undefined && !(PROVIDERS as readonly string[]).includes(provider)) badInput(ctx, [{ field: 'querystring.provider', rule: 'one_of', message: `must be one of ${PROVIDERS.join(', ')}` }]);
      const items = await ctx.client().listAccounts(provider ? { provider: provider as (typeof PROVIDERS)[number] } : {});
      if (ctx.json) return printJson(io, items);
      const labels = (l: Record<string, string>) => Object.entries(l).map(([k, v]) => `${k}=${v}`).join(',') || ctx.c.dim('—');
      io.out(`${table(ctx.c, ['NAME', 'PROVIDER', 'REGION', 'ENDPOINT', 'CREDENTIALS', 'SOURCE', 'LABELS', 'CREATED'], items.map((a) => [a.name, a.provider, a.region, a.endpoint ?? ctx.c.dim('(cloud)'), a.credentialRef, String(a.credentials?.source ?? 'static'), labels(a.labels), shortTime(a.createdAt)]))}\n`);
    });
  addAccountsApplyCommand(accounts, io, context);
  accounts
    .command('add')
    .description('register a cloud account (credentials by reference to SCANQ_CREDENTIALS, never the secret)')
    .requiredOption('--provider <provider>', PROVIDERS.join(', '))
    .requiredOption('--name <name>', 'unique per provider')
    .requiredOption('--region <region>')
    .requiredOption('--credential-ref <name>', 'credential set name in the worker config')
    .option('--endpoint <url>', "leave out for the cloud's real endpoint; the simulator's URL to use it (https://, or http:// to loopback)")
    .option('--settings-json <json>', 'provider settings as a JSON object (e.g. {"registryId":"…"})')
    .option('--credentials-json <json>', 'where workers get credentials, never a secret (e.g. {"source":"assume-role","roleArn":"arn:aws:iam::…:role/scanq","externalId":"…"}); default static')
    .action(async (opts: { provider: string; name: string; region: string; credentialRef: string; endpoint?: string; settingsJson?: string; credentialsJson?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const json = (flag: string, text: string | undefined): unknown => {
        if (text === undefined) return undefined;
        try {
          return JSON.parse(text);
        } catch (err) {
          return badInput(ctx, [{ field: flag, rule: 'json', message: `is not valid JSON (${(err as Error).message})` }]);
        }
      };
      const settings = json('--settings-json', opts.settingsJson);
      const credentials = json('--credentials-json', opts.credentialsJson);
      const body = check(createAccountSchema, defined({ provider: opts.provider, name: opts.name, region: opts.region, credentialRef: opts.credentialRef, endpoint: opts.endpoint, settings, credentials }));
      // What holds whatever the server's settings (scheme, no user or password, no query) is refused here; the rest by the API.
      if (!body.ok) badInput(ctx, withFlagNames(body.issues, ACCOUNT_FLAGS));
      const account = await ctx.client().createAccount(body.value);
      if (ctx.json) return printJson(io, account);
      io.out(`added ${account.provider} account ${ctx.c.bold(account.name)} (${account.id})\n`);
    });

  program
    .command('cancel')
    .description('cancel a scan: one not yet started at the cloud ends cancelled; one already scanning there runs to its real result')
    .argument('<scanId>')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      requireId(ctx, 'scanId', id, 'scan');
      const scan = await ctx.client().cancelScan(id);
      if (ctx.json) return printJson(io, scan);
      const status = statusColor(ctx.c, scan.status)(scan.status);
      if (scan.status === 'cancelled') io.out(`cancelled ${ctx.c.bold(scan.id)}\n`);
      else if (isTerminalScanStatus(scan.status)) io.out(`${ctx.c.bold(scan.id)} had already ended: ${status}\n`);
      else io.out(`${ctx.c.bold(scan.id)} is ${status} at the cloud and cannot be stopped; it ends in its real result (scanq watch ${scan.id})\n`);
    });

  addBulkCommands(program, io);
  addScheduleCommands(program, io);
  addKeyCommands(program, io);
  addQuotaCommand(program, io);
  addInventoryCommands(program, io);

  program
    .command('migrate')
    .description('create the database if needed and apply the migrations (DATABASE_URL; talks to Postgres, not the API)')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const config = loadConfig(io.env);
      // Loaded here only: the other commands never load the database layer.
      const { ensureDatabase, migrate } = await import('@scanq/db');
      const created = await ensureDatabase(config.databaseUrl);
      const result = await migrate(config.databaseUrl, { log: ctx.json ? undefined : (m) => io.out(`${m}\n`) });
      if (ctx.json) return printJson(io, { createdDatabase: created, ...result });
      io.out(`${created ? 'created database; ' : ''}migrations: ${result.applied.length} applied, ${result.alreadyApplied.length} already applied\n`);
    });

  return program;
}

/** Parses `argv` (user arguments only), runs the command and returns its exit code. */
/** Where the client's own refusals come from on the command line. */
const FLAG_OF_CLIENT_FIELD: Record<string, string> = {
  'options.baseUrl': '--api-url / SCANQ_API_URL',
  'options.apiKey': '--api-key / SCANQ_API_KEY',
  'headers.idempotency-key': '--idempotency-key',
};

export async function run(argv: string[], io: CliIo): Promise<number> {
  const json = argv.includes('--json');
  // With --json a usage error is printed once, as JSON, below (not as commander's text).
  const program = createProgram(io, { commanderErrors: !json });
  const fail = (code: ExitCode, body: { error: string; message: string; issues?: ApiIssue[] }, text: string): number => {
    io.err(json ? `${JSON.stringify(body)}\n` : `${text}\n`);
    return code;
  };
  const c = colorsFor(io.isTTY && !json);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ExitCode.Ok;
  } catch (err) {
    if (err instanceof CliExit) {
      if (err.message) return fail(err.code, { error: err.error, message: err.message }, `${c.red('error')}: ${err.message}`);
      return err.code;
    }
    if (err instanceof CommanderError) {
      // Asked-for help and the version are successes; help shown because a command is missing
      // (`scanq keys`) and every other parse error is bad input (commander printed the text).
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return ExitCode.Ok;
      if (json) io.err(`${JSON.stringify({ error: 'usage', message: err.code === 'commander.help' ? 'a command is missing (see --help)' : err.message.replace(/^error: /, '') })}\n`);
      return ExitCode.BadInput;
    }
    if (err instanceof ScanqInputError) {
      const issues = err.issues.map((i) => ({ ...i, field: FLAG_OF_CLIENT_FIELD[i.field] ?? i.field }));
      return fail(ExitCode.BadInput, { error: 'bad_input', message: issuesMessage(issues), issues }, `${c.red('bad input')}\n${issuesText(c, issues)}`);
    }
    if (err instanceof ConfigError) return fail(ExitCode.BadInput, { error: 'bad_configuration', message: err.message }, `${c.red('error')}: ${err.message}`);
    if (err instanceof ScanqApiError) {
      const body = { error: err.error, message: err.message, status: err.status, ...(err.issues.length ? { issues: err.issues } : {}) };
      const hint = err.status === 401 ? `\n${c.dim('pass an API key with --api-key or SCANQ_API_KEY')}` : '';
      const text = `${c.red(`error ${err.status} ${err.error}`)}: ${err.message}${err.issues.length ? `\n${issuesText(c, err.issues)}` : ''}${hint}`;
      return fail(err.isBadInput ? ExitCode.BadInput : ExitCode.Error, body, text);
    }
    if (err instanceof ScanqNetworkError) return fail(ExitCode.Error, { error: `api_${err.kind}`, message: err.message }, `${c.red('error')}: ${err.message}`);
    if (err instanceof ScanqResponseError) return fail(ExitCode.Error, { error: 'api_response_mismatch', message: err.message, issues: err.issues }, `${c.red('error')}: ${err.message}`);
    return fail(ExitCode.Error, { error: 'error', message: (err as Error).message }, `${c.red('error')}: ${(err as Error).message}`);
  }
}
