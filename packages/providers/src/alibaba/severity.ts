import type { Severity } from '@scanq/core';

/**
 * SAS image vulnerabilities carry one severity field, `Necessity` (DescribeImageVulList):
 * `asap` fix as soon as possible = high, `later` = medium, `nntf` (no need to fix) = low.
 * There is no critical level and no CVSS score in the record.
 */
const NECESSITY: Record<string, Severity> = {
  asap: 'HIGH',
  later: 'MEDIUM',
  nntf: 'LOW',
};

/** Some SAS lists spell levels out (`high`, `medium`, `low`, `serious`); accepted too. */
const LEVEL: Record<string, Severity> = {
  critical: 'CRITICAL',
  serious: 'CRITICAL',
  high: 'HIGH',
  medium: 'MEDIUM',
  low: 'LOW',
  info: 'INFORMATIONAL',
};

export const mapSasNecessity = (necessity: string | undefined | null): Severity => {
  const key = (necessity ?? '').trim().toLowerCase();
  return NECESSITY[key] ?? LEVEL[key] ?? 'UNKNOWN';
};
