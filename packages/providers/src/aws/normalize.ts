import type { EnhancedImageScanFinding, ImageScanFinding } from '@aws-sdk/client-ecr';
import type { NormalizedFinding } from '@scanq/core';
import { mapEcrSeverity } from './severity.js';

const attr = (f: ImageScanFinding, key: string): string | undefined => f.attributes?.find((a) => a.key === key)?.value;

const num = (v: string | number | undefined): number | null => {
  const n = typeof v === 'number' ? v : v === undefined ? NaN : Number.parseFloat(v);
  return Number.isFinite(n) ? n : null;
};

/** A basic-scan finding (Clair-style: name, severity, attributes). */
export function normalizeBasicFinding(f: ImageScanFinding): NormalizedFinding {
  return {
    vulnerabilityId: f.name ?? 'UNKNOWN',
    severity: mapEcrSeverity(f.severity),
    providerSeverity: f.severity ?? 'UNDEFINED',
    packageName: attr(f, 'package_name') ?? null,
    installedVersion: attr(f, 'package_version') ?? null,
    fixedVersion: null,
    title: f.description ? f.description.slice(0, 500) : null,
    link: f.uri ?? null,
    score: num(attr(f, 'CVSS3_SCORE') ?? attr(f, 'CVSS2_SCORE')),
    raw: f,
  };
}

/** An enhanced (Amazon Inspector) finding. */
export function normalizeEnhancedFinding(f: EnhancedImageScanFinding): NormalizedFinding {
  const details = f.packageVulnerabilityDetails;
  const pkg = details?.vulnerablePackages?.[0];
  return {
    vulnerabilityId: details?.vulnerabilityId ?? f.title ?? f.findingArn ?? 'UNKNOWN',
    severity: mapEcrSeverity(f.severity),
    providerSeverity: f.severity ?? 'UNTRIAGED',
    packageName: pkg?.name ?? null,
    installedVersion: pkg?.version ?? null,
    fixedVersion: pkg?.fixedInVersion ?? null,
    title: f.title ?? (f.description ? f.description.slice(0, 500) : null),
    link: details?.sourceUrl ?? f.remediation?.recommendation?.url ?? null,
    score: f.score ?? num(details?.cvss?.[0]?.baseScore),
    raw: f,
  };
}
