import { TERMINAL_BULK_SCAN_STATUSES, TERMINAL_SCAN_STATUSES } from '@scanq/core';

const ENDED: ReadonlySet<string> = new Set([...TERMINAL_SCAN_STATUSES, ...TERMINAL_BULK_SCAN_STATUSES]);

/** Polls `check` until it returns a value (not undefined/false) or `timeoutMs` passes. */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, options: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${options.what ?? 'condition'}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
}

/**
 * Reads a scan or bulk scan with `read` until it has ended (succeeded, failed or cancelled, and
 * finished: a cancelled bulk scan runs on until its scans at the cloud end); returns it.
 */
export function waitForEnded<T extends { status: string; finishedAt?: unknown }>(read: () => Promise<T | null | undefined>, options: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  return waitFor(async () => {
    const row = await read();
    return row && ENDED.has(row.status) && row.finishedAt !== null ? row : undefined;
  }, options);
}
