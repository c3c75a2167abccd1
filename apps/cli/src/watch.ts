import type { Scan, ScanqClient } from '@scanq/client';
import { isTerminalScanStatus } from '@scanq/core';
import { type Colors, progressBar, scanSubject, severitySummary, statusColor, truncate } from './render.js';
import type { CliIo } from './io.js';

export interface WatchOptions {
  intervalMs: number;
  json: boolean;
}

/** The lines a scan shows while watched: the scan's bar, then one bar per image. */
export function scanLines(c: Colors, scan: Scan): string[] {
  const status = statusColor(c, scan.status)(scan.status.padEnd(10));
  const head = `${c.bold(scan.id.slice(0, 8))} ${scan.provider.padEnd(7)} ${progressBar(c, scan.progress, scan.status)} ${String(scan.progress).padStart(3)}%  ${status} ${truncate(scanSubject(scan), 48)}`;
  // Findings once it succeeded; otherwise why it is waiting or why it ended.
  const why = scan.reason ? c.dim(`  (${scan.reason}${scan.error && scan.status === 'failed' ? `: ${truncate(scan.error, 80)}` : ''})`) : '';
  const tail = scan.status === 'succeeded' ? `  ${severitySummary(c, scan.severityCounts)}${why}` : why;
  const images = scan.images.map((img) => {
    const ref = img.tags[0] ? `${img.repository}:${img.tags[0]}` : `${img.repository}@${(img.digest ?? '').slice(0, 19)}`;
    const result = img.status === 'succeeded' ? `  ${severitySummary(c, img.severityCounts)}${img.reused ? c.dim(' (reused)') : ''}` : img.reason ? c.dim(`  (${img.reason})`) : '';
    return `         ${progressBar(c, img.progress, img.status, 16)} ${String(img.progress).padStart(3)}%  ${statusColor(c, img.status)(img.status.padEnd(10))} ${truncate(ref, 48)}${result}`;
  });
  return [head + tail, ...images];
}

/**
 * Redraws a block of lines in place (cursor up + clear), the way a terminal progress display
 * does. Auto-wrap is off while drawing, so a line wider than the terminal is clipped instead of
 * wrapping onto a second row the cursor-up count would not know about.
 */
export class LiveBlock {
  private drawn = 0;
  constructor(private readonly io: CliIo) {}
  draw(lines: string[]): void {
    const up = this.drawn ? `\x1b[${this.drawn}A` : '';
    this.io.out(`\x1b[?7l${up}${lines.map((l) => `\x1b[2K${l}\n`).join('')}\x1b[J\x1b[?7h`);
    this.drawn = lines.length;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Follows scans until each one ends. On a terminal the bars redraw in place; otherwise a line
 * is printed whenever a scan's status or progress changes. --json prints the final scans only.
 * Returns true when every scan succeeded.
 */
export async function watchScans(client: ScanqClient, ids: string[], io: CliIo, c: Colors, options: WatchOptions): Promise<{ scans: Scan[]; allSucceeded: boolean }> {
  const scans = new Map<string, Scan>();
  const live = !options.json && io.isTTY ? new LiveBlock(io) : undefined;
  const lastLine = new Map<string, string>();
  for (;;) {
    const open = ids.filter((id) => !scans.has(id) || !isTerminalScanStatus(scans.get(id)!.status));
    const fresh = await Promise.all(open.map((id) => client.getScan(id)));
    for (const s of fresh) scans.set(s.id, s);
    const current = ids.map((id) => scans.get(id)!);
    if (live) live.draw(current.flatMap((s) => scanLines(c, s)));
    else if (!options.json) {
      for (const s of current) {
        const key = `${s.status}|${s.progress}|${s.images.map((i) => `${i.status}:${i.progress}`).join(',')}`;
        if (lastLine.get(s.id) === key) continue;
        lastLine.set(s.id, key);
        io.out(`${scanLines(c, s).join('\n')}\n`);
      }
    }
    // Exit-0 material as for bulk scans: every scan succeeded and none of its images failed.
    if (current.every((s) => isTerminalScanStatus(s.status))) return { scans: current, allSucceeded: current.every((s) => s.status === 'succeeded' && s.images.every((i) => i.status !== 'failed')) };
    await sleep(options.intervalMs);
  }
}
