import type { ImageRef } from '../contract.js';

/**
 * What HSS sends, read defensively: numbers may arrive as strings (Long fields pass through
 * gateways as text), so every number is parsed and checked rather than trusted.
 */

export const text = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined);

/** A non-negative integer sent as a number or a decimal string; anything else is undefined. */
export function count(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+(\.0+)?\s*$/.test(v) ? Number(v) : Number.NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

export const flag = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : v === 'true' ? true : v === 'false' ? false : undefined);

/** `image_type` of ListSwrImageRepository for the images scanq scans (local images are not registry images). */
export type ListImageType = 'private_image' | 'shared_image' | 'instance_image';

/** What identifies one SWR image to HSS. */
export interface HssImageKey {
  imageType: ListImageType;
  namespace: string;
  imageName: string;
  imageVersion: string;
  /** SWR Enterprise Edition instance (imageType `instance_image`). */
  instanceId?: string;
}

export const keyString = (k: HssImageKey): string => [k.imageType, k.instanceId ?? '', k.namespace, k.imageName, k.imageVersion].join('\u0000');

/**
 * ImageRef.registry carries HSS's own image type (and the enterprise instance), since later
 * calls (ListImageVulnerabilities) need them and get nothing but the ImageRef:
 * `private_image`, `shared_image`, or `instance_image/<instance_id>`.
 */
export function registryOf(k: Pick<HssImageKey, 'imageType' | 'instanceId'>): string {
  return k.imageType === 'instance_image' ? `instance_image/${k.instanceId ?? ''}` : k.imageType;
}

export function keyOfRef(ref: ImageRef): HssImageKey | undefined {
  const slash = ref.repository.indexOf('/');
  const imageVersion = ref.tags[0];
  if (slash <= 0 || imageVersion === undefined) return undefined;
  const namespace = ref.repository.slice(0, slash);
  const imageName = ref.repository.slice(slash + 1);
  if (ref.registry === 'private_image' || ref.registry === 'shared_image') return { imageType: ref.registry, namespace, imageName, imageVersion };
  if (ref.registry.startsWith('instance_image/')) {
    const instanceId = ref.registry.slice('instance_image/'.length);
    return instanceId ? { imageType: 'instance_image', instanceId, namespace, imageName, imageVersion } : undefined;
  }
  return undefined;
}

/** One `data_list` entry of ListSwrImageRepository (PrivateImageRepositoryInfo), parsed. */
export interface RepositoryImage {
  key: HssImageKey;
  imageId?: string;
  digest?: string;
  scanStatus?: string;
  scanFailedDesc?: string;
  /** Completion time of the latest scan (ms), when HSS has one. */
  latestScanTime?: number;
  vulNum?: number;
  instanceUrl?: string;
  /** The entry as received. */
  raw: Record<string, unknown>;
}

/** Parses an entry of a list queried with `queriedType`; undefined when it cannot name an image. */
export function parseRepositoryImage(entry: unknown, queriedType: ListImageType): RepositoryImage | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  const e = entry as Record<string, unknown>;
  const namespace = text(e.namespace);
  const imageName = text(e.image_name);
  const imageVersion = text(e.image_version);
  if (!namespace || !imageName || !imageVersion) return undefined;
  const instanceId = queriedType === 'instance_image' ? text(e.instance_id) : undefined;
  if (queriedType === 'instance_image' && !instanceId) return undefined;
  const scanTime = count(e.latest_scan_time);
  return {
    key: { imageType: queriedType, namespace, imageName, imageVersion, ...(instanceId ? { instanceId } : {}) },
    imageId: text(e.image_id),
    digest: text(e.image_digest),
    scanStatus: text(e.scan_status),
    scanFailedDesc: text(e.scan_failed_desc),
    latestScanTime: scanTime ? scanTime : undefined,
    vulNum: count(e.vul_num),
    instanceUrl: text(e.instance_url),
    raw: e,
  };
}

export function refOf(img: RepositoryImage): ImageRef {
  return {
    registry: registryOf(img.key),
    repository: `${img.key.namespace}/${img.key.imageName}`,
    tags: [img.key.imageVersion],
    digest: img.digest ?? null,
    // image_id is what ListImageVulnerabilities takes; the record id only when HSS sent no image_id.
    providerImageId: img.imageId ?? text(img.raw.id) ?? null,
    // Kept on the image's row: a later poll reads it back (deferred findings).
    raw: img.raw,
  };
}
