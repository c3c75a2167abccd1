import { SIMULATOR_ACCOUNTS, TERMINAL_SCAN_STATUSES } from '@scanq/core';
import type { CallCounterSnapshot } from '../../../apps/simulator/src/core/call-counter.js';
import { simulatorCalls } from '../../support/simulator-calls.js';
import type { Stack } from './stack.js';

/**
 * The figures of the issue, read from the simulator (what the clouds saw) and from Postgres
 * (the ledger), never from scanq's own view of itself (its API, metrics or Redis).
 */

const TERMINAL: ReadonlySet<string> = new Set(TERMINAL_SCAN_STATUSES);
export const ALIBABA_TASK_LIMIT = 10;
export const TENCENT_PER_SECOND = 20;

export interface CloudFigures {
  /** Cloud tasks beyond one per scan: AWS StartImageScan calls beyond one per image (24 h window), Alibaba/Tencent tasks per image beyond one, Huawei batch scans beyond one per scan. */
  duplicates: { aws: number; alibaba: number; tencent: number; huawei: number; total: number };
  /** Which images were started more than once, for the failure message. */
  duplicateDetail: string[];
  alibabaMaxRunning: number;
  alibabaBeyondQuata: number;
  /** Worst count of one Tencent API inside a 1-s window (the simulator's sliding window when it has one, else its wall-clock seconds). */
  tencentWorstWindow: { api: string; calls: number; sliding: boolean };
  /** Calls the Tencent simulator refused for its 20/s limit (injected throttling excluded). */
  tencentRejected: number;
  /** Violations, counted as events: BeyondQuata answers, Alibaba tasks above 10 at once, Tencent refusals, Tencent APIs that went above 20 in a window. */
  quotaViolations: number;
  /** Calls the simulator answered with an injected fault. */
  faultsInjected: number;
  /** The simulator's counters; the sliding window and per-image task counts only where the simulator has them. */
  calls: CallCounterSnapshot & { maxPerSlidingSecond?: Record<string, number>; tasks?: Record<string, { created: number; perImage: Record<string, number> }> };
}

interface AwsState {
  runtime: { scansStarted: Record<string, number>; limitExceeded: Record<string, number> };
}
interface AlibabaState {
  accounts: { name: string; beyondQuataCount: number; runningTasks?: { uuids: string[] }[]; finishedTasks?: { uuids: string[] }[] }[];
}
interface TencentState {
  tasks: { TaskID: number; imageIds: number[] }[];
  rateLimit: { rejectedTotal: number };
}
interface HuaweiState {
  accounts: { name: string; scansStarted: number }[];
}

async function simState<T>(stack: Stack, cloud: string): Promise<T> {
  const res = await fetch(`${stack.simUrl}/_sim/state/${cloud}`);
  if (!res.ok) throw new Error(`/_sim/state/${cloud}: ${res.status}`);
  return (await res.json()) as T;
}

function repeats(keys: Iterable<string | number>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(String(k), (counts.get(String(k)) ?? 0) + 1);
  return new Map([...counts].filter(([, n]) => n > 1));
}

/** `huaweiScans`: Huawei scans that reached the cloud (each should be exactly one BatchScanSwrImage). */
export async function cloudFigures(stack: Stack, huaweiScans: number): Promise<CloudFigures> {
  const [calls, aws, alibaba, tencent, huawei] = await Promise.all([
    simulatorCalls(stack.simUrl) as Promise<CloudFigures['calls']>,
    simState<AwsState>(stack, 'aws'),
    simState<AlibabaState>(stack, 'alibaba'),
    simState<TencentState>(stack, 'tencent'),
    simState<HuaweiState>(stack, 'huawei'),
  ]);
  const detail: string[] = [];

  // AWS: every StartImageScan that reached an image's scan book (started or LimitExceeded) beyond the first.
  let awsDup = 0;
  for (const key of new Set([...Object.keys(aws.runtime.scansStarted), ...Object.keys(aws.runtime.limitExceeded)])) {
    const n = (aws.runtime.scansStarted[key] ?? 0) + (aws.runtime.limitExceeded[key] ?? 0);
    if (n > 1) {
      awsDup += n - 1;
      detail.push(`aws ${key}: ${n} StartImageScan`);
    }
  }

  const ali = alibaba.accounts.find((a) => a.name === SIMULATOR_ACCOUNTS.alibaba[0].name)!;
  const aliTasks = [...(ali.runningTasks ?? []), ...(ali.finishedTasks ?? [])];
  let aliDup = 0;
  for (const [uuid, n] of repeats(aliTasks.flatMap((t) => t.uuids))) {
    aliDup += n - 1;
    detail.push(`alibaba image ${uuid}: ${n} tasks`);
  }

  let tcDup = 0;
  for (const [id, n] of repeats(tencent.tasks.flatMap((t) => t.imageIds))) {
    tcDup += n - 1;
    detail.push(`tencent image ${id}: ${n} tasks`);
  }

  // Per image where the simulator counts tasks per image (`tasks.huawei.perImage`); else HSS's
  // state names no image per batch call: compare the batch scans with the scans that reached it.
  let hwDup = 0;
  const hwPerImage = calls.tasks?.huawei?.perImage;
  if (hwPerImage) {
    for (const [image, n] of Object.entries(hwPerImage)) {
      if (n > 1) {
        hwDup += n - 1;
        detail.push(`huawei ${image}: ${n} batch scans`);
      }
    }
  } else {
    const hwOk = calls.outcomes['huawei:BatchScanSwrImage:ok'] ?? 0;
    const hwStarted = huawei.accounts.find((a) => a.name === SIMULATOR_ACCOUNTS.huawei[0].name)?.scansStarted ?? 0;
    hwDup = Math.max(0, hwOk - huaweiScans, hwStarted - huaweiScans);
    if (hwDup > 0) detail.push(`huawei: ${hwOk} BatchScanSwrImage answered ok, ${hwStarted} image scans started, for ${huaweiScans} scans`);
  }

  const aliGauge = calls.gauges[`alibaba:${ali.name}:runningTasks`]?.max ?? 0;
  const sliding = calls.maxPerSlidingSecond !== undefined;
  const windows = Object.entries(sliding ? calls.maxPerSlidingSecond! : calls.maxPerSecond).filter(([k]) => k.startsWith('tencent:'));
  const worst = windows.reduce((w, [api, n]) => (n > w.calls ? { api, calls: n, sliding } : w), { api: '', calls: 0, sliding });
  const tencentOver = windows.filter(([, n]) => n > TENCENT_PER_SECOND).length;
  const quotaViolations = ali.beyondQuataCount + Math.max(0, aliGauge - ALIBABA_TASK_LIMIT) + tencent.rateLimit.rejectedTotal + tencentOver;
  const faultsInjected = Object.entries(calls.outcomes)
    .filter(([k]) => /:fault:/.test(k))
    .reduce((a, [, n]) => a + n, 0);

  return {
    duplicates: { aws: awsDup, alibaba: aliDup, tencent: tcDup, huawei: hwDup, total: awsDup + aliDup + tcDup + hwDup },
    duplicateDetail: detail,
    alibabaMaxRunning: aliGauge,
    alibabaBeyondQuata: ali.beyondQuataCount,
    tencentWorstWindow: worst,
    tencentRejected: tencent.rateLimit.rejectedTotal,
    quotaViolations,
    faultsInjected,
    calls,
  };
}

export interface ScanRow {
  id: string;
  provider: string;
  status: string;
  reason: string | null;
  error: string | null;
  started: boolean;
  /** Epoch seconds. */
  deadline: number;
  finished: number | null;
  updated: number;
}

export interface LedgerFigures {
  accepted: number;
  /** Accepted (202 with an id) but absent from Postgres or not terminal. */
  lost: ScanRow[] | { id: string; provider: string; status: 'absent' }[];
  lostCount: number;
  byStatus: Record<string, number>;
  failed: ScanRow[];
  /** Ended after their deadline, still open past it, or ended only by it (`timed_out`). */
  pastDeadline: number;
  /** Rows in Postgres the API never acknowledged with a 202 (e.g. answered 500, or not in time, after writing). */
  unacknowledged: number;
  /** Of those, the ones not terminal: the ledger holds them, so they must end too. */
  unacknowledgedOpen: number;
}

export async function scanRows(stack: Stack, ids?: string[]): Promise<ScanRow[]> {
  const where = ids ? 'WHERE "id" = ANY($1::uuid[])' : '';
  return stack.query<ScanRow>(
    `SELECT "id", "provider"::text AS provider, "status"::text AS status, "reason", "error", "startedAt" IS NOT NULL AS started,
            extract(epoch FROM "deadlineAt")::float8 AS deadline, extract(epoch FROM "finishedAt")::float8 AS finished,
            extract(epoch FROM "updatedAt")::float8 AS updated
       FROM "Scan" ${where}`,
    ids ? [ids] : [],
  );
}

export async function ledgerFigures(stack: Stack, accepted: { id: string; provider: string }[]): Promise<LedgerFigures> {
  const rows = await scanRows(stack);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const now = Date.now() / 1000;
  const lost: (ScanRow | { id: string; provider: string; status: 'absent' })[] = [];
  const byStatus: Record<string, number> = {};
  for (const a of accepted) {
    const row = byId.get(a.id);
    const status = row?.status ?? 'absent';
    byStatus[status] = (byStatus[status] ?? 0) + 1;
    if (!row) lost.push({ id: a.id, provider: a.provider, status: 'absent' });
    else if (!TERMINAL.has(row.status)) lost.push(row);
  }
  const acceptedIds = new Set(accepted.map((a) => a.id));
  const mine = rows.filter((r) => acceptedIds.has(r.id));
  return {
    accepted: accepted.length,
    lost: lost as LedgerFigures['lost'],
    lostCount: lost.length,
    byStatus,
    failed: mine.filter((r) => r.status === 'failed'),
    // A scan of seconds that needed its deadline to end was stuck as surely as one still open past it.
    pastDeadline: mine.filter((r) => r.reason === 'timed_out' || (r.finished !== null ? r.finished > r.deadline + 5 : now > r.deadline + 5)).length,
    unacknowledged: rows.filter((r) => !acceptedIds.has(r.id)).length,
    unacknowledgedOpen: rows.filter((r) => !acceptedIds.has(r.id) && !TERMINAL.has(r.status)).length,
  };
}

/**
 * Waits until every scan of the ledger is terminal in Postgres — those the API acknowledged and
 * any it recorded without an answer reaching the client — and every id of `accepted` is there;
 * returns the seconds it took, null if not within `timeoutMs`.
 */
export async function waitAllTerminal(stack: Stack, accepted: string[], timeoutMs: number): Promise<number | null> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    try {
      const rows = await scanRows(stack);
      const ids = new Set(rows.map((r) => r.id));
      if (accepted.every((id) => ids.has(id)) && rows.every((r) => TERMINAL.has(r.status))) return (Date.now() - started) / 1000;
    } catch {
      /* Postgres may be coming back */
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  return null;
}

/** Scans not terminal right now. */
export async function openScans(stack: Stack): Promise<ScanRow[]> {
  return (await scanRows(stack)).filter((r) => !TERMINAL.has(r.status));
}

/**
 * Time to heal: seconds from `sinceMs` until every scan of `ids` has moved in Postgres (its row
 * written after `sinceMs`, or terminal); null when some had not within `timeoutMs`.
 */
export async function waitAllMoved(
  stack: Stack,
  ids: string[],
  sinceMs: number,
  timeoutMs: number,
): Promise<{ seconds: number | null; stuck: ScanRow[]; /** The last few to move: provider, status then, seconds after `sinceMs` (to 0.5 s). */ lastToMove: string[] }> {
  let stuck: ScanRow[] = [];
  const movedAt = new Map<string, { provider: string; status: string; s: number }>();
  const lastToMove = () => [...movedAt.values()].sort((a, b) => b.s - a.s).slice(0, 5).map((m) => `${m.provider} ${m.status} ${m.s.toFixed(1)} s`);
  while (Date.now() - sinceMs < timeoutMs) {
    try {
      const rows = await scanRows(stack, ids);
      const s = (Date.now() - sinceMs) / 1000;
      for (const r of rows) if (!movedAt.has(r.id) && (TERMINAL.has(r.status) || r.updated * 1000 > sinceMs)) movedAt.set(r.id, { provider: r.provider, status: r.status, s });
      stuck = rows.filter((r) => !TERMINAL.has(r.status) && r.updated * 1000 <= sinceMs);
      if (stuck.length === 0) return { seconds: s, stuck, lastToMove: lastToMove() };
    } catch {
      /* Postgres may be coming back */
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return { seconds: null, stuck, lastToMove: lastToMove() };
}
