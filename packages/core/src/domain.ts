/** Domain enums shared by every package. Mirrors the Prisma enums (a test keeps them equal). */

export const PROVIDERS = ['aws', 'alibaba', 'tencent', 'huawei'] as const;
export type Provider = (typeof PROVIDERS)[number];

export const SCAN_STATUSES = ['queued', 'quota_wait', 'running', 'retrying', 'succeeded', 'failed', 'cancelled'] as const;
export type ScanStatus = (typeof SCAN_STATUSES)[number];
export const TERMINAL_SCAN_STATUSES: readonly ScanStatus[] = ['succeeded', 'failed', 'cancelled'];
export const isTerminalScanStatus = (s: ScanStatus): boolean => TERMINAL_SCAN_STATUSES.includes(s);

export const BULK_SCAN_STATUSES = ['planning', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type BulkScanStatus = (typeof BULK_SCAN_STATUSES)[number];
export const TERMINAL_BULK_SCAN_STATUSES: readonly BulkScanStatus[] = ['succeeded', 'failed', 'cancelled'];

export const WEBHOOK_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type WebhookStatus = (typeof WEBHOOK_STATUSES)[number];

export const IMAGE_SCAN_STATUSES = ['pending', 'scanning', 'succeeded', 'failed', 'skipped', 'cancelled'] as const;
export type ImageScanStatus = (typeof IMAGE_SCAN_STATUSES)[number];

/** Normalized severity; each provider maps its own levels into these in its mapping file. */
export const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL', 'UNKNOWN'] as const;
export type Severity = (typeof SEVERITIES)[number];

export type SeverityCounts = Record<Severity, number>;
export const emptySeverityCounts = (): SeverityCounts => ({ CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, INFORMATIONAL: 0, UNKNOWN: 0 });

/** A vulnerability finding in scanq's model, with the provider's own record kept as `raw`. */
export interface NormalizedFinding {
  vulnerabilityId: string;
  severity: Severity;
  providerSeverity: string;
  packageName?: string | null;
  installedVersion?: string | null;
  fixedVersion?: string | null;
  title?: string | null;
  link?: string | null;
  score?: number | null;
  /** The CVSS vector of `score` (v3 where the cloud gives one, else v2). */
  cvssVector?: string | null;
  /** Every reference URL the cloud gave (`link` is the first). */
  links?: string[];
  /**
   * The cloud's own id when `vulnerabilityId` is the CVE it aliases (ALAS-…, RHSA-…, AVD-…,
   * CNVD-…, `debian:10:CVE-…`); null when the cloud's id is the vulnerability id itself.
   */
  providerVulnerabilityId?: string | null;
  raw: unknown;
}

/**
 * Machine-readable reasons a scan or image ends the way it does. Kept as one list so API
 * users can switch on them.
 */
export const SCAN_REASONS = [
  'image_not_found',
  'repository_not_found',
  'invalid_parameter',
  'validation',
  'unsupported_image_type',
  'scan_not_found',
  'scan_failed',
  'timed_out',
  'provider_error',
  'attempts_exhausted',
  'reused_recent_scan',
  'limit_exceeded_reused',
  'limit_exceeded_waiting',
  'quota_wait',
  'no_permission',
  'insufficient_authorization',
  'no_images_matched',
  'unsupported_region',
  'not_found',
  'invalid',
  'cancelled',
  /** The account's endpoint leads to an address the endpoint rule refuses (SCANQ_PROVIDER_ALLOW_*_ENDPOINTS). */
  'endpoint_refused',
] as const;
export type ScanReason = (typeof SCAN_REASONS)[number];
