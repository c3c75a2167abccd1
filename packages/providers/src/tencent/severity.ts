import type { Severity } from '@scanq/core';

/**
 * TCSS vulnerability levels → scanq's model. `ImageVul.Level` is a string: the API example shows
 * `"3"` for a CVSS 8.8 finding, and the sibling DescribeAssetImageVulList documents levels 1–4
 * (1 low … 4 critical; the exact wording is unconfirmed, see cloud-apis.md). The console and
 * exports name the same levels 严重/高危/中危/低危/提示; English labels are accepted too.
 */
const TCSS_LEVEL: Record<string, Severity> = {
  '4': 'CRITICAL',
  '3': 'HIGH',
  '2': 'MEDIUM',
  '1': 'LOW',
  '0': 'INFORMATIONAL',
  严重: 'CRITICAL',
  高危: 'HIGH',
  中危: 'MEDIUM',
  低危: 'LOW',
  提示: 'INFORMATIONAL',
  CRITICAL: 'CRITICAL',
  SERIOUS: 'CRITICAL',
  HIGH: 'HIGH',
  MEDIUM: 'MEDIUM',
  MIDDLE: 'MEDIUM',
  LOW: 'LOW',
  INFO: 'INFORMATIONAL',
  INFORMATIONAL: 'INFORMATIONAL',
  NOTICE: 'INFORMATIONAL',
};

/** CVSS v3 qualitative ranges, used only when the level is missing or unknown. */
function fromCvss(score: number | null): Severity {
  if (score === null || score < 0) return 'UNKNOWN';
  if (score >= 9) return 'CRITICAL';
  if (score >= 7) return 'HIGH';
  if (score >= 4) return 'MEDIUM';
  if (score > 0) return 'LOW';
  return 'INFORMATIONAL';
}

export function mapTcssSeverity(level: string | undefined, cvssScore: number | null = null): Severity {
  const key = (level ?? '').trim();
  return TCSS_LEVEL[key] ?? TCSS_LEVEL[key.toUpperCase()] ?? fromCvss(cvssScore);
}
