import type { ScanReason } from '@scanq/core';
import type { DescribeAssetImageRegistryDetailResponse } from 'tencentcloud-sdk-nodejs/tencentcloud/services/tcss/v20201101/tcss_models.js';
import type { ImageProgress } from '../contract.js';

/**
 * DescribeAssetImageRegistryDetail as TCSS sends it. The seed's own example spells the
 * sensitive-info count `SentiveInfoCnt` (so does the SDK's older field); its field table and the
 * current SDK model say `SensitiveInfoCnt`. Either may come; both are read.
 */
export type TcssImageDetail = DescribeAssetImageRegistryDetailResponse & { SentiveInfoCnt?: number; SensitiveInfoCnt?: number };

export const sensitiveInfoCount = (d: TcssImageDetail): number | undefined => d.SensitiveInfoCnt ?? d.SentiveInfoCnt;

/** One TCSS sub-scan (vulnerability, virus, risk) as the Detail answer reports it. */
export interface SubScan {
  status: string | null;
  progress: number | null;
  error: string | null;
}

/** Every progress and result field of the Detail answer, named once (stored with the image). */
export interface TcssImageStatus {
  scanStatus: string | null;
  progress: number | null;
  /** Seconds TCSS expects the scan still needs. */
  scanRemainTime: number | null;
  scanTime: string | null;
  vulnerability: SubScan;
  virus: SubScan;
  risk: SubScan;
  vulCnt: number | null;
  virusCnt: number | null;
  riskCnt: number | null;
  sensitiveInfoCnt: number | null;
  isAuthorized: number | null;
  reason: string | null;
  solution: string | null;
}

const n = (v: number | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const s = (v: string | undefined): string | null => (typeof v === 'string' && v !== '' ? v : null);

export function imageStatus(d: TcssImageDetail): TcssImageStatus {
  return {
    scanStatus: s(d.ScanStatus),
    progress: n(d.Progress),
    scanRemainTime: n(d.ScanRemainTime),
    scanTime: s(d.ScanTime),
    vulnerability: { status: s(d.CveStatus), progress: n(d.ScanVulProgress), error: s(d.ScanVulError) },
    virus: { status: s(d.VirusStatus), progress: n(d.ScanVirusProgress), error: s(d.ScanVirusError) },
    risk: { status: s(d.RiskStatus), progress: n(d.ScanRiskProgress), error: s(d.ScanRiskError) },
    vulCnt: n(d.VulCnt),
    virusCnt: n(d.VirusCnt),
    riskCnt: n(d.RiskCnt),
    sensitiveInfoCnt: n(sensitiveInfoCount(d)),
    isAuthorized: n(d.IsAuthorized),
    reason: s(d.Reason),
    solution: s(d.Solution),
  };
}

/** What is stored as the image's raw payload: the Detail answer as received, plus its fields read. */
export function rawImageStatus(d: TcssImageDetail): { detail: Omit<TcssImageDetail, 'RequestId'>; status: TcssImageStatus } {
  const { RequestId: _requestId, ...detail } = d;
  return { detail, status: imageStatus(d) };
}

/** TCSS statuses seen for registry images (and local images: WAIT_SCAN, CANCELED). */
const FAILED: Record<string, ScanReason> = { SCAN_ERR: 'scan_failed', FAILED: 'scan_failed', SCAN_TIMEOUT: 'scan_failed', CANCELED: 'cancelled', CANCELLED: 'cancelled' };

const clampProgress = (p: number | null, max: number) => (p === null ? undefined : Math.max(0, Math.min(max, Math.round(p))));

/** Overall progress while scanning: `Progress`, else the mean of the sub-scans that report one. */
function scanningProgress(st: TcssImageStatus): number | undefined {
  if (st.progress !== null) return clampProgress(st.progress, 99);
  const parts = [st.vulnerability, st.virus, st.risk].map((x) => x.progress).filter((p): p is number => p !== null);
  return parts.length ? clampProgress(parts.reduce((a, b) => a + b, 0) / parts.length, 99) : undefined;
}

function failureMessage(st: TcssImageStatus, fallback: string): string {
  const parts = [st.reason, st.vulnerability.error && `vulnerability scan: ${st.vulnerability.error}`, st.virus.error && `virus scan: ${st.virus.error}`, st.risk.error && `risk scan: ${st.risk.error}`];
  const text = [...new Set(parts.filter((p): p is string => !!p))].join('; ');
  return `${fallback}${text ? `: ${text}` : ''}${st.solution ? ` (${st.solution})` : ''}`;
}

/**
 * One image's state from its Detail answer. SCANNED with a failed vulnerability sub-scan is a
 * failure for scanq (its findings would be missing); a failed virus or risk sub-scan is not (it
 * stays visible in `raw`). NOT_SCAN and WAIT_SCAN right after the start mean queued in TCSS.
 */
export function imageProgressFromDetail(index: number, d: TcssImageDetail): ImageProgress {
  const st = imageStatus(d);
  const raw = rawImageStatus(d);
  const status = (st.scanStatus ?? '').toUpperCase();
  if (status === 'SCANNED') {
    if ((st.vulnerability.status ?? '').toUpperCase() === 'SCAN_ERR') {
      return { index, state: 'failed', reason: 'scan_failed', message: failureMessage(st, 'TCSS vulnerability scan failed'), raw };
    }
    return { index, state: 'succeeded', progress: 100, raw };
  }
  const failed = FAILED[status];
  if (failed) return { index, state: 'failed', reason: failed, message: failureMessage(st, `TCSS scan ended ${status}`), raw };
  const progress = scanningProgress(st);
  return { index, state: 'scanning', ...(progress !== undefined ? { progress } : {}), raw };
}

/** One row of DescribeAssetImageRegistryScanStatusOneKey's `ImageStatus` (SDK model `ImageProgress`). */
export interface TcssStatusRow {
  ImageId?: string;
  RegistryType?: string;
  ImageRepoAddress?: string;
  InstanceId?: string;
  InstanceName?: string;
  Namespace?: string;
  ImageName?: string;
  ImageTag?: string;
  ScanStatus?: string;
  CveProgress?: number;
  RiskProgress?: number;
  VirusProgress?: number;
}

/** Scan types and the row field that carries each one's progress. */
const ROW_PROGRESS = { CVE: 'CveProgress', VIRUS: 'VirusProgress', RISK: 'RiskProgress' } as const;

/**
 * A status row's fields in the shape of `TcssImageStatus`. The row has no counts, errors or
 * per-image remaining time: those stay null (`scanRemainTime` is the whole request's estimate).
 */
export function statusFromRow(row: TcssStatusRow, scanRemainTime: number | null): TcssImageStatus {
  const sub = (p: number | undefined): SubScan => ({ status: null, progress: n(p), error: null });
  return {
    scanStatus: s(row.ScanStatus),
    progress: null,
    scanRemainTime,
    scanTime: null,
    vulnerability: sub(row.CveProgress),
    virus: sub(row.VirusProgress),
    risk: sub(row.RiskProgress),
    vulCnt: null,
    virusCnt: null,
    riskCnt: null,
    sensitiveInfoCnt: null,
    isAuthorized: null,
    reason: null,
    solution: null,
  };
}

/**
 * What a status row alone settles: `scanning` (with the mean progress of the requested
 * sub-scans) or `succeeded`; null when only the Detail answer can tell (a failure, whose reason
 * the row lacks, or SCANNED with the vulnerability sub-scan short of 100 %).
 */
export function imageProgressFromRow(index: number, row: TcssStatusRow, scanTypes: readonly string[], scanRemainTime: number | null): ImageProgress | null {
  const status = (row.ScanStatus ?? '').toUpperCase();
  const raw = { progress: row, status: statusFromRow(row, scanRemainTime) };
  const parts = scanTypes.map((t) => n(row[ROW_PROGRESS[t as keyof typeof ROW_PROGRESS]])).filter((p): p is number => p !== null);
  if (status === 'SCANNED') {
    const cve = n(row.CveProgress);
    if (scanTypes.includes('CVE') && cve !== null && cve < 100) return null;
    return { index, state: 'succeeded', progress: 100, raw };
  }
  if (FAILED[status]) return null;
  const progress = parts.length ? clampProgress(parts.reduce((a, b) => a + b, 0) / parts.length, 99) : undefined;
  return { index, state: 'scanning', ...(progress !== undefined ? { progress } : {}), raw };
}
