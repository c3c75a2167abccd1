import type { Schedule, ScanqClient } from '@scanq/client';
import type { Command } from 'commander';
import { addSelectorOptions, buildScheduleRequest, type ScheduleFlags, selectorSummary } from './bulk-request.js';
import { duration } from './bulk-watch.js';
import { badInput, type Context, contextFor, isUuid, printJson } from './command-context.js';
import { CliExit, type CliIo, ExitCode } from './io.js';
import { table, truncate } from './render.js';

/** A schedule by id, or by its (unique) name; exit 3 when there is none, as for the API's 404. */
export async function resolveSchedule(client: ScanqClient, ref: string): Promise<Schedule> {
  if (isUuid(ref)) return client.getSchedule(ref);
  const found = (await client.listSchedules()).find((s) => s.name === ref);
  if (!found) throw new CliExit(ExitCode.Error, `no schedule named "${ref}" (scanq schedules ls lists them)`, 'not_found');
  return found;
}

/** "2025-06-02 02:00 Europe/Berlin", the wall-clock time where the schedule runs. */
export function timeInZone(iso: string, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
      .formatToParts(new Date(iso))
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${timeZone}`;
}

function nextRunText(ctx: Context, s: Schedule): string {
  if (!s.enabled) return ctx.c.dim('paused');
  if (!s.nextRunAt) return ctx.c.dim('—');
  const inSeconds = (Date.parse(s.nextRunAt) - Date.now()) / 1000;
  return `${timeInZone(s.nextRunAt, s.timezone)}${inSeconds > 0 ? ctx.c.dim(` (in ${duration(inSeconds)})`) : ''}`;
}

function scheduleLine(ctx: Context, s: Schedule): string {
  return `schedule ${ctx.c.bold(s.name)} (${s.id}) ${s.enabled ? ctx.c.green('active') : ctx.c.yellow('paused')}, next run: ${nextRunText(ctx, s)}`;
}

/** `scanq schedules …`: ls, add, pause, resume, rm (by name or id). */
export function addScheduleCommands(program: Command, io: CliIo): void {
  const schedules = program.command('schedules').description('cron schedules: each tick runs one bulk scan');

  schedules
    .command('ls')
    .description('every schedule with its next run (in its own time zone)')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = contextFor(io, cmd);
      const items = await ctx.client().listSchedules();
      if (ctx.json) return printJson(io, items);
      const { c } = ctx;
      io.out(
        `${table(
          c,
          ['NAME', 'STATE', 'CRON', 'NEXT RUN', 'LAST RUN', 'SELECTOR', 'ID'],
          items.map((s) => [
            s.name,
            s.enabled ? c.green('active') : c.yellow('paused'),
            s.cron,
            nextRunText(ctx, s),
            s.lastRunAt ? timeInZone(s.lastRunAt, s.timezone) : c.dim('never'),
            truncate(`${selectorSummary(s.selector)}${s.force ? ' · force' : ''}`, 48),
            s.id,
          ]),
        )}\n`,
      );
    });

  addSelectorOptions(
    schedules
      .command('add')
      .description('add a schedule: --name, --cron (5 fields, or 6 with seconds first), --timezone and the bulk selector flags')
      .requiredOption('--name <name>', 'unique; letters, digits, . _ -')
      .requiredOption('--cron <expr>', 'e.g. "0 2 * * *" (02:00 every day)')
      .option('--timezone <tz>', 'IANA time zone the cron runs in (default UTC)'),
  )
    .option('--force', 're-scan images the 24 h rule or --skip-scanned-within would skip')
    .option('--webhook-url <url>', "receives each tick's bulk-scan completion event")
    .option('--paused', 'add it paused (resume with scanq schedules resume <name>)')
    .action(async (flags: ScheduleFlags, cmd: Command) => {
      const ctx = contextFor(io, cmd);
      const built = buildScheduleRequest(flags);
      if (!built.ok) badInput(ctx, built.issues);
      const created = await ctx.client().createSchedule(built.request);
      if (ctx.json) return printJson(io, created);
      io.out(`added ${scheduleLine(ctx, created)}\n`);
    });

  const toggle = (name: 'pause' | 'resume', description: string, enabled: boolean) =>
    schedules
      .command(name)
      .description(description)
      .argument('<nameOrId>')
      .action(async (ref: string, _opts: unknown, cmd: Command) => {
        const ctx = contextFor(io, cmd);
        const client = ctx.client();
        const updated = await client.updateSchedule((await resolveSchedule(client, ref)).id, { enabled });
        if (ctx.json) return printJson(io, updated);
        io.out(`${scheduleLine(ctx, updated)}\n`);
      });
  toggle('pause', 'stop a schedule ticking (its bulk scans already running go on)', false);
  toggle('resume', 'let a paused schedule tick again', true);

  schedules
    .command('rm')
    .description('delete a schedule (the bulk scans it created stay)')
    .argument('<nameOrId>')
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const ctx = contextFor(io, cmd);
      const client = ctx.client();
      const schedule = await resolveSchedule(client, ref);
      await client.deleteSchedule(schedule.id);
      if (ctx.json) return printJson(io, { deleted: true, id: schedule.id, name: schedule.name });
      io.out(`deleted schedule ${ctx.c.bold(schedule.name)} (${schedule.id})\n`);
    });
}
