import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import { pick, seededRandom, sha256Hex } from '../core/seed.js';

/** A TCSS-connected registry instance: personal CCR (`ccr.ccs.tencentyun.com`) or an enterprise TCR. */
export interface RegistryInstance {
  InstanceId: string;
  InstanceName: string;
  RegistryType: 'ccr' | 'tcr';
  /** `default` for personal CCR (as in the DescribeAssetImageRegistryDetail example), else the region. */
  RegistryRegion: string;
  host: string;
  namespaces: string[];
}

/** Images that behave differently, so tests and demos can find them in `state()`. */
export type SpecialImageKind = 'scan_error' | 'unauthorized' | 'vuln_heavy' | 'clean';

export interface SeedImage {
  account: string;
  /** Numeric registry-image id (uint64 in the API) used by scan, detail and vul-list calls. */
  Id: number;
  InstanceId: string;
  InstanceName: string;
  RegistryType: 'ccr' | 'tcr';
  RegistryRegion: string;
  Namespace: string;
  ImageName: string;
  ImageTag: string;
  ImageDigest: string;
  ImageId: string;
  /** `<host>/<namespace>/<name>`, without the tag (as in the Detail example). */
  ImageRepoAddress: string;
  ImageSize: number;
  OsName: string;
  ImageCreateTimeMs: number;
  LayerInfo: string;
  IsAuthorized: 0 | 1;
  IsLatestImage: boolean;
  ContainerCnt: number;
  /** Distro family the seeded OS-package findings come from. */
  osFamily: OsFamily;
  special?: SpecialImageKind;
  /** A scan that finished before the simulator started (realistic inventory), if any. */
  priorScanCompletedAtMs?: number;
}

export interface SeedAccount {
  name: string;
  secretId: string;
  secretKey: string;
  region: string;
  instances: RegistryInstance[];
  images: SeedImage[];
}

export type OsFamily = 'debian' | 'alpine' | 'centos' | 'ubuntu';

const ORGS = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'vandelay'];
const NAMESPACES = ['web', 'payments', 'platform', 'data', 'ml', 'infra', 'mobile', 'search'];
const REPOS = [
  'api', 'gateway', 'worker', 'frontend', 'auth-service', 'billing', 'notifier', 'scheduler', 'etl',
  'redis-proxy', 'nginx', 'metrics-agent', 'log-shipper', 'model-server', 'feature-store',
  'search-indexer', 'checkout', 'cart', 'inventory', 'recommender',
];
const OS_FAMILIES: readonly OsFamily[] = ['debian', 'alpine', 'centos', 'ubuntu'];
const SPECIAL_NAMESPACE = 'scanq-special';
/** Prior scans are anchored to a fixed date so the seed stays deterministic. */
const PRIOR_SCAN_EPOCH_MS = Date.UTC(2025, 0, 1);
const IMAGE_CREATE_EPOCH_MS = Date.UTC(2024, 0, 1);
const DAY_MS = 86_400_000;

/** Seeds every account in SIMULATOR_ACCOUNTS.tencent: same seed → same instances, images, ids, digests. */
export function seedTencentAccounts(seed: string, imagesPerAccount: number, tagAliasShare = 0): SeedAccount[] {
  return SIMULATOR_ACCOUNTS.tencent.map((acc, index) => {
    const rand = seededRandom(`${seed}:tencent:${acc.name}`);
    const org = ORGS[index % ORGS.length] + (index >= ORGS.length ? String(index) : '');
    const instances = seedInstances(rand, org, acc.region);
    const idBase = 3_000_000 + index * 1_000_000 + Math.floor(rand() * 400_000);
    const images = seedImages({ seed, account: acc.name, rand, instances, count: imagesPerAccount, idBase, tagAliasShare });
    return { name: acc.name, secretId: acc.secretId, secretKey: acc.secretKey, region: acc.region, instances, images };
  });
}

function seedInstances(rand: () => number, org: string, region: string): RegistryInstance[] {
  const namespacesFor = (n: number) => shuffle(rand, NAMESPACES).slice(0, n).map((ns) => `${org}-${ns}`);
  return [
    {
      InstanceId: `ins-${randomId(rand, 8)}`,
      InstanceName: 'ccr-default',
      RegistryType: 'ccr',
      RegistryRegion: 'default',
      host: 'ccr.ccs.tencentyun.com',
      namespaces: namespacesFor(2),
    },
    {
      InstanceId: `tcr-${randomId(rand, 8)}`,
      InstanceName: `${org}-prod`,
      RegistryType: 'tcr',
      RegistryRegion: region,
      host: `${org}-prod.tencentcloudcr.com`,
      namespaces: [...namespacesFor(3), SPECIAL_NAMESPACE],
    },
    {
      InstanceId: `tcr-${randomId(rand, 8)}`,
      InstanceName: `${org}-dev`,
      RegistryType: 'tcr',
      RegistryRegion: region,
      host: `${org}-dev.tencentcloudcr.com`,
      namespaces: namespacesFor(2),
    },
  ];
}

interface SeedImagesInput {
  seed: string;
  account: string;
  rand: () => number;
  instances: RegistryInstance[];
  count: number;
  idBase: number;
  tagAliasShare: number;
}

function seedImages({ seed, account, rand, instances, count, idBase, tagAliasShare }: SeedImagesInput): SeedImage[] {
  const images: SeedImage[] = [];
  const usedRepos = new Set<string>();
  const regularInstances = instances.map((i) => ({ ...i, namespaces: i.namespaces.filter((ns) => ns !== SPECIAL_NAMESPACE) }));
  const make = (instance: RegistryInstance, Namespace: string, ImageName: string, ImageTag: string, createdMs: number, special?: SpecialImageKind): SeedImage => {
    const key = `${seed}:tencent:${account}:${instance.InstanceName}/${Namespace}/${ImageName}:${ImageTag}`;
    const containerCnt = rand() < 0.6 ? 0 : 1 + Math.floor(rand() * 5);
    const image: SeedImage = {
      account,
      Id: idBase + images.length,
      InstanceId: instance.InstanceId,
      InstanceName: instance.InstanceName,
      RegistryType: instance.RegistryType,
      RegistryRegion: instance.RegistryRegion,
      Namespace,
      ImageName,
      ImageTag,
      ImageDigest: `sha256:${sha256Hex(`${key}:digest`)}`,
      ImageId: `sha256:${sha256Hex(`${key}:config`)}`,
      ImageRepoAddress: `${instance.host}/${Namespace}/${ImageName}`,
      ImageSize: 5_000_000 + Math.floor(rand() * 900_000_000),
      OsName: 'linux',
      ImageCreateTimeMs: createdMs,
      LayerInfo: layerInfo(rand, createdMs),
      IsAuthorized: special === 'unauthorized' ? 0 : 1,
      IsLatestImage: false,
      ContainerCnt: special ? 0 : containerCnt,
      osFamily: pick(rand, OS_FAMILIES),
    };
    if (special) image.special = special;
    else if (rand() < 0.4) image.priorScanCompletedAtMs = PRIOR_SCAN_EPOCH_MS + Math.floor(rand() * 300 * DAY_MS);
    images.push(image);
    return image;
  };

  while (images.length < count) {
    const instance = pick(rand, regularInstances);
    const namespace = pick(rand, instance.namespaces);
    let name = pick(rand, REPOS);
    for (let n = 2; usedRepos.has(`${instance.InstanceName}/${namespace}/${name}`); n++) name = `${pick(rand, REPOS)}-${n}`;
    usedRepos.add(`${instance.InstanceName}/${namespace}/${name}`);
    const tagCount = 1 + Math.floor(rand() * 5);
    const major = 1 + Math.floor(rand() * 3);
    const minor = Math.floor(rand() * 10);
    let createdMs = IMAGE_CREATE_EPOCH_MS + Math.floor(rand() * 500 * DAY_MS);
    const repoImages: SeedImage[] = [];
    for (let t = 0; t < tagCount && images.length < count; t++) {
      createdMs += DAY_MS + Math.floor(rand() * 20 * DAY_MS);
      const tag = t === tagCount - 1 && tagCount > 1 ? 'latest' : `v${major}.${minor}.${t}`;
      repoImages.push(make(instance, namespace, name, tag, createdMs));
    }
    // Tags are created in order, so the last one is the repository's newest image.
    const newest = repoImages[repoImages.length - 1];
    if (newest) newest.IsLatestImage = true;
    // `latest` pushed as an alias of the newest version: the same manifest under a second tag.
    // Chosen by a hash (not `rand`), so the rest of the seed is the same whatever the share.
    const version = repoImages[repoImages.length - 2];
    const repoKey = `${seed}:tencent:${account}:${instance.InstanceName}/${namespace}/${name}:alias`;
    if (newest && version && newest.ImageTag === 'latest' && parseInt(sha256Hex(repoKey).slice(0, 8), 16) / 0x1_0000_0000 < tagAliasShare) {
      Object.assign(newest, {
        ImageDigest: version.ImageDigest,
        ImageId: version.ImageId,
        ImageSize: version.ImageSize,
        ImageCreateTimeMs: version.ImageCreateTimeMs,
        LayerInfo: version.LayerInfo,
        osFamily: version.osFamily,
      });
    }
  }

  const prod = instances[1] as RegistryInstance;
  const specials: Array<[string, string, SpecialImageKind]> = [
    ['scan-error', 'broken', 'scan_error'],
    ['unauthorized', 'v1', 'unauthorized'],
    ['vuln-heavy', 'v1', 'vuln_heavy'],
    ['distroless-clean', 'v1', 'clean'],
  ];
  for (const [name, tag, kind] of specials) {
    const img = make(prod, SPECIAL_NAMESPACE, name, tag, IMAGE_CREATE_EPOCH_MS + 600 * DAY_MS, kind);
    img.IsLatestImage = true;
  }
  return images;
}

function layerInfo(rand: () => number, createdMs: number): string {
  const base = createdMs - 30 * DAY_MS;
  const steps = [
    `/bin/sh -c #(nop) ADD file:${sha256Hex(String(rand()))} in / `,
    '/bin/sh -c #(nop)  CMD ["/bin/sh"]',
    '/bin/sh -c apt-get update && apt-get install -y --no-install-recommends ca-certificates curl',
    '/bin/sh -c #(nop) WORKDIR /app',
    '/bin/sh -c #(nop) COPY dir:app in /app ',
    '/bin/sh -c #(nop)  ENTRYPOINT ["/app/server"]',
  ].slice(0, 3 + Math.floor(rand() * 4));
  return steps
    .map((cmd, i) => `#${new Date(base + i * 60_000).toISOString().replace('T', ' ').replace('Z', '')} +0000 UTC\n\n${cmd}\n\n`)
    .join('');
}

function randomId(rand: () => number, length: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from({ length }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
}

function shuffle<T>(rand: () => number, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
