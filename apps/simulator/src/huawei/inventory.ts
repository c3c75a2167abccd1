import { sha256Hex } from '../core/seed.js';
import { vulnerabilityCount } from './findings.js';

/**
 * The SWR images HSS knows for one account, derived deterministically from (seed, account,
 * index) so 20,000+ images cost one hash each and no stored fixture. Images are grouped into
 * repositories (namespace/image_name) of TAGS_PER_REPO versions; the last version of each
 * repository is `latest_version`. Every 10th repository is shared with the account by another
 * tenant, and another every 10th lives in an SWR Enterprise Edition instance.
 */

/** `image_type` values an image can carry in ListSwrImageRepository. */
export type HssImageType = 'private_image' | 'shared_image' | 'instance_image';

/** Seeded images whose scans end in a particular way (namespace `scanq-special`). */
export type SpecialKind = 'scan_fails' | 'download_fails' | 'oversized' | 'no_vulns' | 'many_vulns' | 'expired_share';

export interface SeededImage {
  /** Position in the account's inventory (stable for a seed and image count). */
  index: number;
  /** HSS record id (`id`, a Long), unique across accounts. */
  id: number;
  imageType: HssImageType;
  namespace: string;
  imageName: string;
  imageVersion: string;
  /** 64 hex characters, the form HSS uses in `/image/{image_id}/vulnerabilities`. */
  imageId: string;
  imageDigest: string;
  imageSize: number;
  latestVersion: boolean;
  latestUpdateTime: number;
  /** When a scan that finished before the simulator started completed; undefined = never scanned. */
  seededScanTime?: number;
  special?: SpecialKind;
  /** Findings a successful scan reports (ListImageVulnerabilities returns exactly this many). */
  vulNum: number;
  unsafeSettingNum: number;
  maliciousFileNum: number;
  domainName?: string;
  sharedStatus?: 'effective' | 'expired';
  instanceId?: string;
  instanceName?: string;
  instanceUrl?: string;
}

export interface HssAccount {
  name: string;
  region: string;
  projectId: string;
  ak: string;
  sk: string;
}

export const TAGS_PER_REPO = 4;
export const SPECIAL_NAMESPACE = 'scanq-special';
/** Scans of images larger than this end `image_oversized` (the special image is 32 GiB). */
export const OVERSIZED_BYTES = 32 * 1024 ** 3;

const NAMESPACES = ['core-platform', 'payments', 'data-eng', 'web', 'ml-serving', 'internal-tools', 'observability', 'identity'];
const REPO_NAMES = [
  'api-gateway', 'order-service', 'billing-worker', 'user-profile', 'auth-proxy', 'nginx', 'redis', 'postgres-exporter',
  'kafka-connect', 'frontend', 'checkout', 'inventory', 'search-indexer', 'notification-svc', 'report-generator',
  'etl-runner', 'model-server', 'feature-store', 'grafana', 'prometheus', 'fluent-bit', 'openjdk', 'python-base',
  'node-base', 'golang-builder', 'cron-jobs', 'admin-console', 'ledger', 'fraud-detector', 'image-resizer',
];
const SHARING_TENANTS = ['partner-tenant-01', 'vendor-security-02', 'group-shared-03'];
const INSTANCE_NAMES = ['swr-ee-prod', 'swr-ee-dev'];

const SPECIALS: { kind: SpecialKind; name: string; type: HssImageType; prescanned: boolean }[] = [
  { kind: 'scan_fails', name: 'scan-fails', type: 'private_image', prescanned: false },
  { kind: 'download_fails', name: 'download-fails', type: 'private_image', prescanned: false },
  { kind: 'oversized', name: 'oversized', type: 'private_image', prescanned: false },
  { kind: 'no_vulns', name: 'no-vulns', type: 'private_image', prescanned: true },
  { kind: 'many_vulns', name: 'many-vulns', type: 'private_image', prescanned: true },
  { kind: 'expired_share', name: 'expired-share', type: 'shared_image', prescanned: false },
];

/** Repositories' update times spread over the 300 days before this date. */
const BASE_TIME = Date.UTC(2025, 5, 1);
const DAY = 24 * 3600 * 1000;

function u32(hex: string, word: number): number {
  return parseInt(hex.slice(word * 8, word * 8 + 8), 16) >>> 0;
}

function uuidFrom(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export function lookupKey(type: HssImageType, namespace: string, name: string, version: string, instanceId = ''): string {
  return `${type}\u0000${namespace}\u0000${name}\u0000${version}\u0000${instanceId}`;
}

export class AccountInventory {
  private cache: SeededImage[] | undefined;
  private index: Map<string, number> | undefined;
  /** `latest` aliases, indexed after the special images so the seeded indexes never move. */
  private readonly aliasCount: number;
  readonly instances: { id: string; name: string; url: string }[];

  constructor(
    readonly account: HssAccount,
    private readonly accountIndex: number,
    private readonly seed: string,
    readonly regularCount: number,
    /** Repositories that also carry a `latest` tag on their newest version (see HssOptions.latestAliases). */
    latestAliases = 0,
    /** Share of regular images with vulnerabilities, in percent (HssOptions.vulnerablePercent). */
    private readonly vulnerablePercent = 85,
  ) {
    this.aliasCount = Math.min(latestAliases, Math.floor(regularCount / TAGS_PER_REPO));
    this.instances = INSTANCE_NAMES.map((name) => {
      const id = uuidFrom(sha256Hex(`${seed}|huawei|${account.projectId}|instance|${name}`));
      return { id, name, url: `${name}-${id.slice(0, 8)}.swr.${account.region}.myhuaweicloud.com` };
    });
  }

  get size(): number {
    return this.regularCount + SPECIALS.length + this.aliasCount;
  }

  /** Every image, derived on first use and then kept (a few hundred bytes each). */
  all(): readonly SeededImage[] {
    if (!this.cache) {
      const images: SeededImage[] = [];
      for (let i = 0; i < this.size; i++) images.push(this.derive(i));
      this.cache = images;
    }
    return this.cache;
  }

  find(type: HssImageType, namespace: string, name: string, version: string, instanceId?: string): SeededImage | undefined {
    if (!this.index) {
      this.index = new Map();
      for (const img of this.all()) {
        this.index.set(lookupKey(img.imageType, img.namespace, img.imageName, img.imageVersion, img.instanceId), img.index);
      }
    }
    const i = this.index.get(lookupKey(type, namespace, name, version, instanceId));
    return i === undefined ? undefined : this.all()[i];
  }

  private derive(i: number): SeededImage {
    const acct = this.account.projectId;
    const imageHash = sha256Hex(`${this.seed}|huawei|${acct}|image|${i}`);
    const digest = `sha256:${imageHash}`;
    const imageId = sha256Hex(`${this.seed}|huawei|${acct}|image-id|${i}`);
    const id = this.accountIndex * 10_000_000 + i + 1;
    const aliasOf = i - this.regularCount - SPECIALS.length;
    if (aliasOf >= 0) return this.deriveAlias(i, id, aliasOf);
    if (i >= this.regularCount) return this.deriveSpecial(i, id, digest, imageId);

    const repo = Math.floor(i / TAGS_PER_REPO);
    const tag = i % TAGS_PER_REPO;
    const repoHash = sha256Hex(`${this.seed}|huawei|${acct}|repo|${repo}`);
    const base = REPO_NAMES[repo % REPO_NAMES.length] as string;
    const imageName = repo < REPO_NAMES.length ? base : `${base}-${Math.floor(repo / REPO_NAMES.length)}`;
    const namespace = NAMESPACES[u32(repoHash, 0) % NAMESPACES.length] as string;
    const major = 1 + (u32(repoHash, 1) % 3);
    const minor = u32(repoHash, 2) % 10;
    const patch = u32(imageHash, 0) % 8;
    const latestUpdateTime = BASE_TIME - (u32(repoHash, 3) % 300) * DAY + tag * 7 * DAY + (u32(imageHash, 1) % DAY);
    const prescanned = u32(imageHash, 2) % 100 < 30;
    const image: SeededImage = {
      index: i,
      id,
      imageType: 'private_image',
      namespace,
      imageName,
      imageVersion: `${major}.${minor + tag}.${patch}`,
      imageId,
      imageDigest: digest,
      imageSize: 20 * 1024 ** 2 + (u32(imageHash, 3) % (1200 * 1024 ** 2)),
      // The newest tag of each repository; a trailing partial repository ends on its last image.
      latestVersion: tag === TAGS_PER_REPO - 1 || i === this.regularCount - 1,
      latestUpdateTime,
      seededScanTime: prescanned ? latestUpdateTime + (1 + (u32(imageHash, 4) % 72)) * 3600 * 1000 : undefined,
      vulNum: vulnerabilityCount(digest, undefined, this.vulnerablePercent),
      unsafeSettingNum: u32(imageHash, 5) % 6,
      maliciousFileNum: u32(imageHash, 6) % 100 < 5 ? 1 + (u32(imageHash, 6) % 2) : 0,
    };
    if (repo % 10 === 7) {
      image.imageType = 'shared_image';
      image.domainName = SHARING_TENANTS[u32(repoHash, 4) % SHARING_TENANTS.length];
      image.sharedStatus = 'effective';
    } else if (repo % 10 === 9) {
      const instance = this.instances[Math.floor(repo / 10) % this.instances.length] as (typeof this.instances)[number];
      image.imageType = 'instance_image';
      image.instanceId = instance.id;
      image.instanceName = instance.name;
      image.instanceUrl = instance.url;
    }
    return image;
  }

  /** Repository `repo`'s newest version tagged again as `latest`: same digest, image_id and findings, its own list entry. */
  private deriveAlias(i: number, id: number, repo: number): SeededImage {
    const newest = this.derive(repo * TAGS_PER_REPO + TAGS_PER_REPO - 1);
    return { ...newest, index: i, id, imageVersion: 'latest', latestVersion: false };
  }

  private deriveSpecial(i: number, id: number, digest: string, imageId: string): SeededImage {
    const spec = SPECIALS[i - this.regularCount] as (typeof SPECIALS)[number];
    const latestUpdateTime = BASE_TIME - 10 * DAY;
    const image: SeededImage = {
      index: i,
      id,
      imageType: spec.type,
      namespace: SPECIAL_NAMESPACE,
      imageName: spec.name,
      imageVersion: '1.0.0',
      imageId,
      imageDigest: digest,
      imageSize: spec.kind === 'oversized' ? OVERSIZED_BYTES : 180 * 1024 ** 2,
      latestVersion: true,
      latestUpdateTime,
      seededScanTime: spec.prescanned ? latestUpdateTime + 3600 * 1000 : undefined,
      special: spec.kind,
      vulNum: vulnerabilityCount(digest, spec.kind),
      unsafeSettingNum: spec.kind === 'no_vulns' ? 0 : 2,
      maliciousFileNum: 0,
    };
    if (spec.type === 'shared_image') {
      image.domainName = SHARING_TENANTS[0];
      image.sharedStatus = spec.kind === 'expired_share' ? 'expired' : 'effective';
    }
    return image;
  }
}
