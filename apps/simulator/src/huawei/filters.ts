import type { SeededImage } from './inventory.js';
import type { ScanStatus, ScanView } from './scans.js';

/**
 * Image filters shared by ListSwrImageRepository (query) and BatchScanSwrImage with
 * operate_all=true (body). Names match exactly (the docs do not say the match is fuzzy);
 * `latest_version=false` and zero-valued numbers mean "no restriction" (the documented default
 * of the numeric filters is 0); `image_size` is a lower bound.
 */
export interface ImageFilter {
  namespace?: string;
  imageName?: string;
  imageVersion?: string;
  scanStatus?: ScanStatus;
  latestVersion?: boolean;
  imageSize?: number;
  startLatestUpdateTime?: number;
  endLatestUpdateTime?: number;
  startLatestScanTime?: number;
  endLatestScanTime?: number;
  instanceId?: string;
  instanceName?: string;
  hasVul?: boolean;
  hasMaliciousFile?: boolean;
  hasUnsafeSetting?: boolean;
}

/** Whether the filter needs the image's current scan state (otherwise the seed alone decides). */
export function needsScanView(f: ImageFilter): boolean {
  return (
    f.scanStatus !== undefined ||
    !!f.startLatestScanTime ||
    !!f.endLatestScanTime ||
    f.hasVul !== undefined ||
    f.hasMaliciousFile !== undefined ||
    f.hasUnsafeSetting !== undefined
  );
}

export function matchesSeed(img: SeededImage, f: ImageFilter): boolean {
  if (f.namespace !== undefined && img.namespace !== f.namespace) return false;
  if (f.imageName !== undefined && img.imageName !== f.imageName) return false;
  if (f.imageVersion !== undefined && img.imageVersion !== f.imageVersion) return false;
  if (f.latestVersion && !img.latestVersion) return false;
  if (f.imageSize && img.imageSize < f.imageSize) return false;
  if (f.startLatestUpdateTime && img.latestUpdateTime < f.startLatestUpdateTime) return false;
  if (f.endLatestUpdateTime && img.latestUpdateTime > f.endLatestUpdateTime) return false;
  if (f.instanceId !== undefined && img.instanceId !== f.instanceId) return false;
  if (f.instanceName !== undefined && img.instanceName !== f.instanceName) return false;
  return true;
}

export function matchesScan(img: SeededImage, view: ScanView, f: ImageFilter): boolean {
  if (f.scanStatus !== undefined && view.status !== f.scanStatus) return false;
  const scanTime = view.latestScanTime ?? 0;
  if (f.startLatestScanTime && scanTime < f.startLatestScanTime) return false;
  if (f.endLatestScanTime && (scanTime === 0 || scanTime > f.endLatestScanTime)) return false;
  if (f.hasVul !== undefined && (view.hasResults && img.vulNum > 0) !== f.hasVul) return false;
  if (f.hasMaliciousFile !== undefined && (view.hasResults && img.maliciousFileNum > 0) !== f.hasMaliciousFile) return false;
  if (f.hasUnsafeSetting !== undefined && (view.hasResults && img.unsafeSettingNum > 0) !== f.hasUnsafeSetting) return false;
  return true;
}
