import { expect } from 'vitest';
import { cloudFigures, type CloudFigures, type LedgerFigures, ledgerFigures } from './figures.js';
import type { SubmitLog } from './load.js';
import { recordResult, type ResultRow } from './results.js';
import type { Stack } from './stack.js';

/** One of the figures: what was measured, what it must be, and whether it held. */
export interface Check {
  figure: string;
  measured: unknown;
  want: string;
  ok: boolean;
}

export const atMost = (figure: string, measured: number | null, max: number, unit = ''): Check => ({
  figure,
  measured: measured === null ? 'never' : `${measured}${unit}`,
  want: `≤ ${max}${unit}`,
  ok: measured !== null && measured <= max,
});
export const zero = (figure: string, measured: number): Check => ({ figure, measured, want: '0', ok: measured === 0 });

export interface Judgement {
  ledger: LedgerFigures;
  cloud: CloudFigures;
  row: ResultRow;
}

/**
 * Reads the figures every scenario answers for (lost, duplicate cloud tasks, quota violations,
 * scans past their deadline) plus the scenario's own checks, writes the row to the results
 * file first (so a failing scenario is on record too), then asserts each figure softly: one
 * run reports every figure it broke.
 */
export async function judge(stack: Stack, log: SubmitLog, options: {
    scenario: string;
    timeToHealS: number | null;
    /** Cloud faults may fail a scan for good after its attempts (then only some must succeed); elsewhere every image scans cleanly. */
    failuresAllowed?: boolean;
    checks?: Check[] | ((figures: { ledger: LedgerFigures; cloud: CloudFigures }) => Check[]);
    details?: Record<string, unknown>;
  },
): Promise<Judgement> {
  const accepted = log.accepted;
  const ledger = await ledgerFigures(stack, accepted);
  // Every Huawei scan of the ledger that started, acknowledged or not (a request that timed out may still have been carried out).
  const huaweiReached = (await stack.query<{ n: number }>(`SELECT count(*)::int AS n FROM "Scan" WHERE "provider" = 'huawei' AND "startedAt" IS NOT NULL`))[0]!.n;
  const cloud = await cloudFigures(stack, huaweiReached);

  const checks: Check[] = [
    { figure: 'scans accepted', measured: ledger.accepted, want: '> 0', ok: ledger.accepted > 0 },
    zero('scans lost (accepted, absent or not terminal in Postgres)', ledger.lostCount),
    // Without this a scenario whose scans all failed at once (a refused endpoint, a bad credential) would pass every quota figure.
    options.failuresAllowed
      ? { figure: 'scans succeeded', measured: ledger.byStatus.succeeded ?? 0, want: '> 0', ok: (ledger.byStatus.succeeded ?? 0) > 0 }
      : zero('scans failed (clean images: a failure is the fault’s doing, e.g. attempts burned on an outage)', ledger.failed.length),
    zero('duplicate cloud tasks', cloud.duplicates.total),
    zero('quota violations (simulator)', cloud.quotaViolations),
    zero('scans past their deadline (or ended by it)', ledger.pastDeadline),
    zero('scans recorded without a 202 reaching the client, left open', ledger.unacknowledgedOpen),
    ...(typeof options.checks === 'function' ? options.checks({ ledger, cloud }) : (options.checks ?? [])),
  ];
  const broken = checks.filter((c) => !c.ok).map((c) => `${c.figure}: ${String(c.measured)} (want ${c.want})`);
  const row = recordResult({
    scenario: options.scenario,
    scans: ledger.accepted,
    lost: ledger.lostCount,
    duplicateCloudTasks: cloud.duplicates.total,
    quotaViolations: cloud.quotaViolations,
    timeToHealS: options.timeToHealS === null ? null : Math.round(options.timeToHealS * 10) / 10,
    details: {
      byStatus: ledger.byStatus,
      failed: ledger.failed.slice(0, 5).map((f) => `${f.provider} ${f.reason}: ${f.error?.slice(0, 160)}`),
      lost: ledger.lost.slice(0, 5).map((l) => `${l.provider} ${l.id} ${l.status}`),
      pastDeadline: ledger.pastDeadline,
      unacknowledgedRows: ledger.unacknowledged,
      unacknowledgedOpen: ledger.unacknowledgedOpen,
      duplicates: cloud.duplicates,
      duplicateDetail: cloud.duplicateDetail.slice(0, 10),
      alibabaMaxRunning: cloud.alibabaMaxRunning,
      alibabaBeyondQuata: cloud.alibabaBeyondQuata,
      tencentWorstWindow: cloud.tencentWorstWindow,
      tencentRejected: cloud.tencentRejected,
      faultsInjected: cloud.faultsInjected,
      submitAnswers: log.statuses(),
      ...options.details,
    },
    broken,
  });
  for (const c of checks) expect.soft(c.ok, `${c.figure}: measured ${String(c.measured)}, want ${c.want}`).toBe(true);
  return { ledger, cloud, row };
}
