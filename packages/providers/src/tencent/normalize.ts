import { canonicalVulnerabilityId, httpLinks, type NormalizedFinding } from '@scanq/core';
import type { ImageVul } from 'tencentcloud-sdk-nodejs/tencentcloud/services/tcss/v20201101/tcss_models.js';
import { mapTcssSeverity } from './severity.js';

const num = (v: string | number | undefined): number | null => {
  const n = typeof v === 'number' ? v : v === undefined || v === '' ? Number.NaN : Number.parseFloat(v);
  return Number.isFinite(n) ? n : null;
};

const text = (v: string | undefined | null): string | null => (v && v.trim() !== '' ? v : null);

/** `Reference` is a URL, or (as in the API example) a JSON-encoded list of URLs: the first one. */
export function firstReference(reference: string | undefined): string | null {
  const ref = reference?.trim();
  if (!ref) return null;
  if (ref.startsWith('[')) {
    try {
      const list = JSON.parse(ref) as unknown;
      if (Array.isArray(list)) return list.find((u): u is string => typeof u === 'string' && u.trim() !== '') ?? null;
    } catch {
      /* not JSON: fall through */
    }
  }
  return /^https?:\/\//.test(ref) ? (ref.split(/\s+/)[0] ?? null) : null;
}

/** Every URL of `Reference` (a URL, a JSON list, or URLs separated by spaces). */
export function allReferences(reference: string | undefined): string[] {
  const ref = reference?.trim();
  if (!ref) return [];
  if (ref.startsWith('[')) {
    try {
      const list = JSON.parse(ref) as unknown;
      if (Array.isArray(list)) return httpLinks(...list.filter((u): u is string => typeof u === 'string'));
    } catch {
      /* not JSON: fall through */
    }
  }
  return httpLinks(...ref.split(/\s+/));
}

/** One DescribeAssetImageRegistryVulList `ImageVul` in scanq's model, the record kept as `raw`. */
export function normalizeImageVul(v: ImageVul): NormalizedFinding {
  const component = v.Components?.[0];
  const score = num(v.CvssScore);
  // CVEID is the CVE where TCSS knows one; otherwise its POC id (AVD-…/TCSA-…) or the name.
  const id = text(v.CVEID) ? canonicalVulnerabilityId(text(v.CVEID)) : canonicalVulnerabilityId(text(v.POCID) ?? text(v.Name), [text(v.Name)]);
  return {
    ...id,
    severity: mapTcssSeverity(v.Level, score),
    providerSeverity: v.Level ?? '',
    packageName: text(v.Component) ?? text(component?.Name) ?? null,
    installedVersion: text(v.Version) ?? text(component?.Version) ?? null,
    fixedVersion: text(component?.FixedVersion) ?? text(v.FixedVersions) ?? null,
    title: v.Name ? v.Name.slice(0, 500) : null,
    link: firstReference(v.Reference),
    links: allReferences(v.Reference),
    score,
    cvssVector: text(v.CvssVector),
    raw: v,
  };
}
