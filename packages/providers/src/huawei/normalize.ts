import { canonicalVulnerabilityId, httpLinks, type NormalizedFinding } from '@scanq/core';
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
    // vul_id is a CVE or a CNVD/vendor id; `url` (the advisory) may name the one CVE it covers.
    ...canonicalVulnerabilityId(text(v.vul_id), [text(v.url)]),
    severity: mapRepairNecessity(necessity),
    providerSeverity: necessity ?? 'unknown',
    packageName: text(v.app_name) ?? null,
    installedVersion: text(v.version) ?? null,
    fixedVersion: null,
    title: description ? description.slice(0, 500) : null,
    link: text(v.url) ?? null,
    links: httpLinks(text(v.url)),
    // HSS gives no CVSS (severity is repair_necessity only).
    score: null,
    cvssVector: null,
    raw: v,
  };
}
