import type { NormalizedFinding } from '@scanq/core';
import { text } from './wire.js';
import { mapRepairNecessity } from './severity.js';

/**
 * One ImageVulInfo of ListImageVulnerabilities → scanq's finding. HSS reports no fixed
 * version as a field (only prose in `solution`), so fixedVersion stays null.
 */
export function normalizeImageVulnerability(v: Record<string, unknown>): NormalizedFinding {
  const necessity = text(v.repair_necessity);
  const description = text(v.description);
  return {
    vulnerabilityId: text(v.vul_id) ?? 'UNKNOWN',
    severity: mapRepairNecessity(necessity),
    providerSeverity: necessity ?? 'unknown',
    packageName: text(v.app_name) ?? null,
    installedVersion: text(v.version) ?? null,
    fixedVersion: null,
    title: description ? description.slice(0, 500) : null,
    link: text(v.url) ?? null,
    score: null,
    raw: v,
  };
}
