import type { Severity } from '@scanq/core';

/**
 * HSS grades image vulnerabilities by `repair_necessity` only (ListImageVulnerabilities,
 * ImageVulInfo): immediate_repair = high, delay_repair = medium, not_needed_repair = low.
 * There is no critical level and no CVSS score in that API.
 */
const REPAIR_NECESSITY: Record<string, Severity> = {
  immediate_repair: 'HIGH',
  delay_repair: 'MEDIUM',
  not_needed_repair: 'LOW',
};

export const mapRepairNecessity = (s: string | undefined): Severity => REPAIR_NECESSITY[(s ?? '').toLowerCase()] ?? 'UNKNOWN';
