import type { EnhancedImageScanFinding, ImageScanFinding } from '@aws-sdk/client-ecr';
import { canonicalVulnerabilityId, httpLinks, type NormalizedFinding } from '@scanq/core';
import { mapEcrSeverity } from './severity.js';

const attr = (f: ImageScanFinding, key: string): string | undefined => f.attributes?.find((a) => a.key === key)?.value;

const num = (v: string | number | undefined): number | null => {
  const n = typeof v === 'number' ? v : v === undefined ? NaN : Number.parseFloat(v);
  return Number.isFinite(n) ? n : null;
};

/** A basic-scan finding (Clair-style: name, severity, attributes). */
export function normalizeBasicFinding(f: ImageScanFinding): NormalizedFinding {
  const v3 = num(attr(f, 'CVSS3_SCORE'));
  return {
    // Basic scans name the CVE, or a distribution advisory (ALAS-…) with no CVE list to map it by.
    ...canonicalVulnerabilityId(f.name),
    severity: mapEcrSeverity(f.severity),
    providerSeverity: f.severity ?? 'UNDEFINED',
    packageName: attr(f, 'package_name') ?? null,
    installedVersion: attr(f, 'package_version') ?? null,
    fixedVersion: null,
    title: f.description ? f.description.slice(0, 500) : null,
    link: f.uri ?? null,
    score: v3 ?? num(attr(f, 'CVSS2_SCORE')),
    cvssVector: (v3 !== null ? attr(f, 'CVSS3_VECTOR') : attr(f, 'CVSS2_VECTOR')) ?? null,
    links: httpLinks(f.uri),
    raw: f,
  };
}

/** An enhanced (Amazon Inspector) finding. */
export function normalizeEnhancedFinding(f: EnhancedImageScanFinding): NormalizedFinding {
  const details = f.packageVulnerabilityDetails;
  const pkg = details?.vulnerablePackages?.[0];
  const cvss = f.scoreDetails?.cvss ?? details?.cvss?.[0];
  // Inspector names an ALAS/RHSA advisory with its CVEs in relatedVulnerabilities.
  const id = canonicalVulnerabilityId(details?.vulnerabilityId ?? f.title ?? f.findingArn, details?.relatedVulnerabilities ?? []);
  return {
    ...id,
    severity: mapEcrSeverity(f.severity),
    providerSeverity: f.severity ?? 'UNTRIAGED',
    packageName: pkg?.name ?? null,
    installedVersion: pkg?.version ?? null,
    // Inspector writes "NotAvailable" where no fix exists.
    fixedVersion: pkg?.fixedInVersion && pkg.fixedInVersion !== 'NotAvailable' ? pkg.fixedInVersion : null,
    title: f.title ?? (f.description ? f.description.slice(0, 500) : null),
    link: details?.sourceUrl ?? f.remediation?.recommendation?.url ?? null,
    score: f.score || num(details?.cvss?.[0]?.baseScore),
    cvssVector: (cvss && 'scoringVector' in cvss ? cvss.scoringVector : undefined) ?? null,
    links: httpLinks(details?.sourceUrl, ...(details?.referenceUrls ?? []), f.remediation?.recommendation?.url),
    raw: f,
  };
}
