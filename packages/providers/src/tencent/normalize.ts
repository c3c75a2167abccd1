import type { NormalizedFinding } from '@scanq/core';
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

/** One DescribeAssetImageRegistryVulList `ImageVul` in scanq's model, the record kept as `raw`. */
export function normalizeImageVul(v: ImageVul): NormalizedFinding {
  const component = v.Components?.[0];
  const score = num(v.CvssScore);
  return {
    vulnerabilityId: text(v.CVEID) ?? text(v.POCID) ?? text(v.Name) ?? 'UNKNOWN',
    severity: mapTcssSeverity(v.Level, score),
    providerSeverity: v.Level ?? '',
    packageName: text(v.Component) ?? text(component?.Name) ?? null,
    installedVersion: text(v.Version) ?? text(component?.Version) ?? null,
    fixedVersion: text(component?.FixedVersion) ?? text(v.FixedVersions) ?? null,
    title: v.Name ? v.Name.slice(0, 500) : null,
    link: firstReference(v.Reference),
    score,
    raw: v,
  };
}
