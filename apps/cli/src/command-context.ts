import { type ApiIssue, ScanqClient } from '@scanq/client';
import { issuesMessage, loadClientConfig } from '@scanq/core';
import { type Command, Option } from 'commander';
import { CliExit, type CliIo, ExitCode } from './io.js';
import { type Colors, colorsFor, table } from './render.js';

interface GlobalOptions {
  apiUrl?: string;
  apiKey?: string;
  json?: boolean;
}

/** What every command's action works with: where to write, colours, --json, and the API client. */
export interface Context {
  io: CliIo;
  c: Colors;
  json: boolean;
  client(): ScanqClient;
}

export function contextFor(io: CliIo, cmd: Command): Context {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const json = g.json === true;
  return {
    io,
    json,
    c: colorsFor(io.isTTY && !json),
    client: () => {
      const config = loadClientConfig(io.env);
      return new ScanqClient({ baseUrl: g.apiUrl ?? config.apiUrl, apiKey: g.apiKey ?? config.apiKey, timeoutMs: config.timeoutMs });
    },
  };
}

export const printJson = (io: CliIo, value: unknown) => io.out(`${JSON.stringify(value, null, 2)}\n`);

export function issuesText(c: Colors, issues: ApiIssue[]): string {
  const rows = issues.map((i) => [c.bold(i.field), c.yellow(i.rule), i.message]);
  return table(c, ['FIELD', 'RULE', 'MESSAGE'], rows);
}

/** Bad input found before sending: exit 2 with the field/rule list (or the API's error shape with --json). */
export function badInput(ctx: Context, issues: ApiIssue[]): never {
  if (ctx.json) ctx.io.err(`${JSON.stringify({ error: 'validation_error', message: issuesMessage(issues), issues })}\n`);
  else ctx.io.err(`${ctx.c.red('bad input')}\n${issuesText(ctx.c, issues)}\n`);
  throw new CliExit(ExitCode.BadInput);
}

/**
 * Adds the flag that sets a body field to the message of an issue about it: `flagOf` maps a
 * field path below `body.` (`selector.accounts`, `imageId.imageTag`) to its flag; the longest
 * matching path wins, so an issue inside a field names that field's flag.
 */
export function withFlagNames(issues: ApiIssue[], flagOf: Record<string, string>): ApiIssue[] {
  return issues.map((issue) => {
    let path = issue.field.replace(/^body\.?/, '');
    while (path && flagOf[path] === undefined) path = path.includes('.') ? path.slice(0, path.lastIndexOf('.')) : '';
    const flag = path ? flagOf[path] : undefined;
    return flag ? { ...issue, message: `${issue.message} (${flag})` } : issue;
  });
}

/** Drops undefined values so commander's absent options never reach a schema as keys. */
export const defined = <T extends Record<string, unknown>>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: string) => UUID.test(s);

/** Exit 2 unless every id is a UUID (what the API's ids are), naming each bad one as `<field>.<index>`. */
export function requireIds(ctx: Context, field: string, ids: string[], what: string): void {
  const bad = ids.flatMap((id, i) => (isUuid(id) ? [] : [{ field: `${field}.${i}`, rule: 'uuid', message: `"${id}" is not a ${what} id (UUID)` }]));
  if (bad.length) badInput(ctx, bad);
}

/** Exit 2 unless `id` is a UUID, naming the argument. */
export function requireId(ctx: Context, field: string, id: string, what: string): void {
  if (!isUuid(id)) badInput(ctx, [{ field, rule: 'uuid', message: `"${id}" is not a ${what} id (UUID)` }]);
}

/** One hour: a longer poll is no watch (and Node's timers overflow past 2^31 − 1 ms). */
const MAX_INTERVAL_MS = 3_600_000;

/** `--interval <ms>`: how often a watch polls (a fresh Option per command). */
export function intervalOption(): Option {
  return new Option('--interval <ms>', 'poll interval while watching').default('1000').argParser((v) => {
    if (!/^\d+$/.test(v) || Number(v) < 50 || Number(v) > MAX_INTERVAL_MS) throw new CliExit(ExitCode.BadInput, `--interval: must be a whole number of milliseconds, 50–${MAX_INTERVAL_MS} (got "${v}")`);
    return v;
  });
}
