import type { BulkScan, BulkTotals, ScanqClient } from '@scanq/client';
import { TERMINAL_BULK_SCAN_STATUSES } from '@scanq/core';
import { selectorSummary } from './bulk-request.js';
import type { CliIo } from './io.js';
import { type Colors, progressBar, statusColor, truncate } from './render.js';
import { LiveBlock, sleep, type WatchOptions } from './watch.js';

/** Ended: a terminal status and finished (a cancelled bulk scan runs on while its scans at the cloud end). */
export const isBulkEnded = (b: BulkScan) => (TERMINAL_BULK_SCAN_STATUSES as readonly string[]).includes(b.status) && b.finishedAt !== null;

/** Exit 0 material: the bulk scan succeeded, every account was listed, and no image failed or was cancelled. */
export const bulkAllSucceeded = (b: BulkScan) => b.status === 'succeeded' && b.planErrors.length === 0 && b.totals.failed === 0 && b.totals.cancelled === 0;

/** Images that reached an end state (scanned, failed, skipped or cancelled). */
export const finishedOf = (t: BulkTotals) => t.succeeded + t.failed + t.skipped + t.cancelled;

/** 42s, 3m 05s, 2h 03m. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** "ok 5  failed 1  skipped 2  running 3  queued 10", leaving out zeros. */
function countsText(c: Colors, t: BulkTotals): string {
  const parts: [number, string, (s: string) => string][] = [
    [t.succeeded, 'ok', c.green],
    [t.failed, 'failed', c.red],
    [t.skipped, 'skipped', c.dim],
    [t.cancelled, 'cancelled', c.dim],
    [t.running, 'running', c.cyan],
    [t.queued, 'queued', (s) => s],
  ];
  return parts
    .filter(([n]) => n > 0)
    .map(([n, label, color]) => color(`${label} ${n}`))
    .join('  ');
}

const percentOf = (t: BulkTotals) => (t.planned ? Math.floor((finishedOf(t) / t.planned) * 100) : 0);

/**
 * The lines a bulk scan shows while watched: one bar over every planned image (finished/planned,
 * counts by state, ETA), then one bar per provider.
 */
export function bulkLines(c: Colors, bulk: BulkScan): string[] {
  const t = bulk.totals;
  const ended = isBulkEnded(bulk);
  const progress = bulk.status === 'planning' ? c.dim('planning…') : `${finishedOf(t)}/${t.planned} ${String(percentOf(t)).padStart(3)}%`;
  let timing = '';
  if (ended && bulk.startedAt && bulk.finishedAt) timing = c.dim(`  took ${duration((Date.parse(bulk.finishedAt) - Date.parse(bulk.startedAt)) / 1000)}`);
  else if (!ended) timing = bulk.etaSeconds === null ? c.dim('  ETA —') : `  ETA ${duration(bulk.etaSeconds)}`;
  const why = bulk.error ? c.red(`  (${truncate(bulk.error, 80)})`) : '';
  const head = `${c.bold(bulk.id.slice(0, 8))} ${statusColor(c, bulk.status)(bulk.status.padEnd(10))} ${progressBar(c, ended && bulk.status === 'succeeded' ? 100 : percentOf(t), bulk.status)} ${progress}  ${countsText(c, t)}${timing}${why}`;
  const providers = Object.entries(bulk.byProvider)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([provider, p]) => `         ${provider.padEnd(8)} ${progressBar(c, percentOf(p), finishedOf(p) === p.planned ? 'succeeded' : 'running', 16)} ${finishedOf(p)}/${p.planned}  ${countsText(c, p)}`);
  // Accounts the planner could not list: their images are in no count above, so say so (once the bulk error does not already).
  const unlisted = bulk.error ? [] : bulk.planErrors.map((e) => c.red(`         not listed: ${truncate(e, 110)}`));
  return [`${head}`, ...providers, ...unlisted, c.dim(`         ${selectorSummary(bulk.selector)}${bulk.force ? ' · force' : ''}`)];
}

/**
 * Follows a bulk scan until it ends. On a terminal the block redraws in place; otherwise a line
 * set is printed whenever the status or totals change. --json prints nothing here (the caller
 * prints the final view).
 */
export async function watchBulk(client: ScanqClient, id: string, io: CliIo, c: Colors, options: WatchOptions): Promise<BulkScan> {
  const live = !options.json && io.isTTY ? new LiveBlock(io) : undefined;
  let last = '';
  for (;;) {
    const bulk = await client.getBulkScan(id);
    if (live) live.draw(bulkLines(c, bulk));
    else if (!options.json) {
      const key = `${bulk.status}|${JSON.stringify(bulk.totals)}`;
      if (key !== last) io.out(`${bulkLines(c, bulk).join('\n')}\n`);
      last = key;
    }
    if (isBulkEnded(bulk)) return bulk;
    await sleep(options.intervalMs);
  }
}
