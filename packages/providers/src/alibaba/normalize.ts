import { ALIBABA_SCAN_REGIONS, canonicalVulnerabilityId, type NormalizedFinding } from '@scanq/core';
import type { ImageRef, InventoryImage } from '../contract.js';
import { bareDigest } from './criteria.js';
import { mapSasNecessity } from './severity.js';

/**
 * SAS records → scanq's model. SAS sends some numbers as strings (DescribeImageInstances'
 * ImageSize, ImageUpdate, ImageCreate): they are parsed here and rejected when they are not
 * plain non-negative integers, never passed on as-is.
 */

/** A non-negative integer sent as a number or a decimal string; anything else → null. */
export function parseCount(v: unknown): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : null;
  if (typeof v !== 'string' || !/^\s*\d{1,16}\s*$/.test(v)) return null;
  const n = Number(v.trim());
  return Number.isSafeInteger(n) ? n : null;
}

/** A millisecond timestamp (number or string) → Date; 0, garbage or absurd values → null. */
export function parseMillis(v: unknown): Date | null {
  const n = parseCount(v);
  // 2000-01-01 … 2200-01-01: a seconds value or a stray size is not a date.
  if (n === null || n < 946_684_800_000 || n > 7_258_118_400_000) return null;
  return new Date(n);
}

/** One DescribeImageInstances item, with the fields scanq reads typed and its numbers parsed. */
export interface SasImageInstance {
  uuid: string;
  digest: string;
  tag: string;
  registryType: string;
  regionId: string;
  instanceId: string;
  repoNamespace: string;
  repoName: string;
  repoId: string;
  scaStatus: string;
  scaResult: string;
  scaProgress: number | null;
  imageSize: number | null;
  imageCreatedAt: Date | null;
  imageUpdatedAt: Date | null;
  lastScanAt: Date | null;
  raw: Record<string, unknown>;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));

export function parseInstance(item: Record<string, unknown>): SasImageInstance {
  const progress = parseCount(item.ScaProgress);
  return {
    uuid: str(item.Uuid),
    digest: bareDigest(str(item.Digest)),
    tag: str(item.Tag),
    registryType: str(item.RegistryType),
    regionId: str(item.RegionId),
    instanceId: str(item.InstanceId),
    repoNamespace: str(item.RepoNamespace),
    repoName: str(item.RepoName),
    repoId: str(item.RepoId),
    scaStatus: str(item.ScaStatus),
    scaResult: str(item.ScaResult),
    scaProgress: progress === null ? null : Math.min(100, progress),
    imageSize: parseCount(item.ImageSize),
    imageCreatedAt: parseMillis(item.ImageCreate),
    imageUpdatedAt: parseMillis(item.ImageUpdate),
    lastScanAt: parseMillis(item.LastScanTime),
    raw: item,
  };
}

/** What an ImageScan row keeps of the instance: the item as received plus the parsed numbers. */
export function instanceRaw(i: SasImageInstance): Record<string, unknown> {
  return {
    instance: i.raw,
    parsed: {
      imageSize: i.imageSize,
      imageCreatedAt: i.imageCreatedAt?.toISOString() ?? null,
      imageUpdatedAt: i.imageUpdatedAt?.toISOString() ?? null,
      lastScanAt: i.lastScanAt?.toISOString() ?? null,
      scaProgress: i.scaProgress,
    },
  };
}

export function toImageRef(i: SasImageInstance): ImageRef & { raw: Record<string, unknown> } {
  return {
    registry: `${i.registryType}:${i.regionId}:${i.instanceId}`,
    repository: i.repoNamespace ? `${i.repoNamespace}/${i.repoName}` : i.repoName,
    tags: i.tag ? [i.tag] : [],
    digest: i.digest ? `sha256:${i.digest}` : null,
    providerImageId: i.uuid,
    raw: instanceRaw(i),
  };
}

/** A listing item as a bulk scan's inventory entry (pushedAt: the image's last update). */
export function toInventoryImage(i: SasImageInstance): InventoryImage {
  return {
    ...toImageRef(i),
    pushedAt: i.imageUpdatedAt ?? i.imageCreatedAt,
    namespace: i.repoNamespace || null,
    region: i.regionId || null,
    // Security Center scans images only in the regions its docs list (TASK_NOT_SUPPORT_REGION elsewhere).
    ...(i.regionId && !(ALIBABA_SCAN_REGIONS as readonly string[]).includes(i.regionId) ? { unscannable: 'unsupported_region' as const } : {}),
  };
}

interface RpmEntity {
  Name?: string;
  Version?: string;
  FullVersion?: string;
  MatchDetail?: string;
  UpdateCmd?: string;
}

/** `ExtendContentJson` arrives as an object (or, in some SAS lists, a JSON string). */
function extendContent(v: unknown): { RpmEntityList?: RpmEntity[] } {
  if (typeof v === 'string') {
    try {
      const parsed: unknown = JSON.parse(v);
      return parsed && typeof parsed === 'object' ? (parsed as { RpmEntityList?: RpmEntity[] }) : {};
    } catch {
      return {};
    }
  }
  return v && typeof v === 'object' ? (v as { RpmEntityList?: RpmEntity[] }) : {};
}

/** SAS states the fix only in prose, e.g. "openssl version less than 1.1.1k-1". */
const FIXED_IN = /version\s+(?:less\s+than|<)\s+([^\s,;)]+)/i;

/** One DescribeImageVulList `VulRecords[]` entry. */
export function normalizeVulRecord(r: Record<string, unknown>): NormalizedFinding {
  // `Name` is e.g. `debian:10:CVE-2019-9893`, `Related` the CVE ids it covers.
  const id = canonicalVulnerabilityId(str(r.Name) || str(r.AliasName) || null, [str(r.Related)]);
  const cve = /^CVE-/.test(id.vulnerabilityId) ? id.vulnerabilityId : null;
  const pkg = extendContent(r.ExtendContentJson).RpmEntityList?.[0];
  const necessity = str(r.Necessity);
  return {
    ...id,
    severity: mapSasNecessity(necessity),
    providerSeverity: necessity || 'UNKNOWN',
    packageName: pkg?.Name ?? null,
    installedVersion: pkg?.FullVersion ?? pkg?.Version ?? null,
    fixedVersion: FIXED_IN.exec(pkg?.MatchDetail ?? '')?.[1] ?? null,
    title: str(r.AliasName).slice(0, 500) || null,
    link: cve ? `https://nvd.nist.gov/vuln/detail/${cve}` : null,
    links: cve ? [`https://nvd.nist.gov/vuln/detail/${cve}`] : [],
    // SAS gives no CVSS (severity is Necessity only).
    score: null,
    cvssVector: null,
    raw: r,
  };
}
