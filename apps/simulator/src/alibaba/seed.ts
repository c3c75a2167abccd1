import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import { pick, seededRandom, sha256Hex } from '../core/seed.js';

/**
 * The seeded SAS inventory: per account, images spread over ACR instances (and one Harbor and
 * one Quay registry) in several regions, deterministic from the simulator seed.
 */

/** Regions where SAS can scan images (the seed doc's "Regions that support image security scanning"). */
export const SUPPORTED_REGIONS = [
  'cn-hangzhou',
  'cn-shanghai',
  'cn-shenzhen',
  'cn-qingdao',
  'cn-beijing',
  'cn-zhangjiakou',
  'cn-huhehaote',
  'cn-hongkong',
  'ap-northeast-1',
  'ap-southeast-5',
  'us-west-1',
  'us-east-1',
  'eu-central-1',
  'eu-west-1',
] as const;

/** A region with ACR but without image scanning: its images end with `TASK_NOT_SUPPORT_REGION`. */
export const UNSUPPORTED_REGION = 'me-east-1';

/** The documented RegistryType values (DescribeImageInstances); the seed uses the first three. */
export type RegistryType = 'acr' | 'harbor' | 'quay' | 'CI/CD';

/** How a scan of the image ends: normally, or as a seeded failure. */
export type ImageBehaviour = 'normal' | 'scan-fail' | 'scan-timeout';

export interface SeedImage {
  uuid: string;
  imageId: string;
  /** 64 hex characters, without the `sha256:` prefix (as SAS reports it). */
  digest: string;
  tag: string;
  repoId: string;
  repoName: string;
  repoNamespace: string;
  repoType: 'private' | 'public';
  registryType: RegistryType;
  instanceId: string;
  regionId: string;
  supportedRegion: boolean;
  imageSizeBytes: number;
  imageCreate: number;
  imageUpdate: number;
  deployed: 0 | 1;
  alarmCount: number;
  hcCount: number;
  behaviour: ImageBehaviour;
  /** A successful scan before the simulator started (scheduled/console scans), in ms. */
  previousScanAt?: number;
}

export interface SeedAccount {
  name: string;
  accessKeyId: string;
  accessKeySecret: string;
  region: string;
  images: SeedImage[];
}

interface Registry {
  registryType: RegistryType;
  instanceId: string;
  regionId: string;
  namespaces: string[];
}

const NAMESPACES = ['scanq-prod', 'scanq-staging', 'payments', 'platform', 'data', 'web', 'infra', 'ml'];
const REPO_NAMES = [
  'nginx', 'redis', 'api-gateway', 'billing-service', 'postgres', 'node-app', 'python-worker', 'alpine-base',
  'busybox', 'kafka-connect', 'grafana', 'prometheus', 'order-service', 'auth-service', 'frontend', 'etl-runner',
  'mysql', 'jenkins-agent', 'centos-base', 'spark-driver',
];
const TAGS = ['latest', '1.0.0', '1.0.1', '1.1.0', '1.2.3', '2.0.0', '2.1.0', 'stable', 'dev', 'v3.2.1', 'mysql_5.7', '0.2'];
/** 2025-01-01T00:00:00Z: seeded timestamps are offsets from a fixed date so they never drift. */
const BASE_TIME = Date.UTC(2025, 0, 1);
const DAY = 86_400_000;

function base36Id(label: string, length: number): string {
  return BigInt(`0x${sha256Hex(label)}`).toString(36).slice(0, length).padStart(length, '0');
}

function uuidFrom(label: string): string {
  const h = sha256Hex(label);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function registriesFor(label: string, homeRegion: string, rand: () => number): Registry[] {
  const others = SUPPORTED_REGIONS.filter((r) => r !== homeRegion);
  const second = pick(rand, others);
  const third = pick(rand, others.filter((r) => r !== second));
  const namespaces = () => {
    const first = pick(rand, NAMESPACES);
    return [first, pick(rand, NAMESPACES.filter((n) => n !== first))];
  };
  const acr = (regionId: string, i: number): Registry => ({
    registryType: 'acr',
    instanceId: `cri-${base36Id(`${label}:cri:${i}`, 16)}`,
    regionId,
    namespaces: namespaces(),
  });
  // Non-ACR registries are identified by a numeric instance id (the seed doc's "39010****").
  const numericId = (i: number) => String(390_100_000 + (parseInt(sha256Hex(`${label}:reg:${i}`).slice(0, 6), 16) % 99_999));
  return [
    acr(homeRegion, 0),
    acr(second, 1),
    acr(third, 2),
    { registryType: 'harbor', instanceId: numericId(3), regionId: homeRegion, namespaces: namespaces() },
    { registryType: 'quay', instanceId: numericId(4), regionId: second, namespaces: namespaces() },
  ];
}

/** Seeds one account's images: `count` in total, including the special ones. */
export function seedAccountImages(seed: string, accountName: string, homeRegion: string, count: number): SeedImage[] {
  const label = `${seed}:alibaba:${accountName}`;
  const rand = seededRandom(label);
  const registries = registriesFor(label, homeRegion, rand);
  const unsupportedRegistry: Registry = {
    registryType: 'acr',
    instanceId: `cri-${base36Id(`${label}:cri:unsupported`, 16)}`,
    regionId: UNSUPPORTED_REGION,
    namespaces: ['scanq-gulf'],
  };
  const repoIds = new Map<string, string>();
  const tagsUsed = new Map<string, number>();
  const images: SeedImage[] = [];

  const add = (registry: Registry, namespace: string, repoName: string, behaviour: ImageBehaviour, tag?: string) => {
    const repoKey = `${registry.instanceId}/${namespace}/${repoName}`;
    let repoId = repoIds.get(repoKey);
    if (!repoId) repoIds.set(repoKey, (repoId = `crr-${base36Id(`${label}:repo:${repoKey}`, 16)}`));
    const used = tagsUsed.get(repoKey) ?? 0;
    tagsUsed.set(repoKey, used + 1);
    const i = images.length;
    const imageCreate = BASE_TIME - Math.floor(rand() * 180 * DAY);
    const imageUpdate = imageCreate + Math.floor(rand() * 30 * DAY);
    const supportedRegion = registry.regionId !== UNSUPPORTED_REGION;
    const prescanned = behaviour === 'normal' && supportedRegion && rand() < 0.25;
    images.push({
      uuid: uuidFrom(`${label}:uuid:${i}`),
      imageId: sha256Hex(`${label}:imageId:${i}`),
      digest: sha256Hex(`${label}:digest:${i}`),
      tag: tag ?? (used < TAGS.length ? (TAGS[used] as string) : `build-${used}`),
      repoId,
      repoName,
      repoNamespace: namespace,
      repoType: rand() < 0.8 ? 'private' : 'public',
      registryType: registry.registryType,
      instanceId: registry.instanceId,
      regionId: registry.regionId,
      supportedRegion,
      imageSizeBytes: 5_000_000 + Math.floor(rand() * 1_500_000_000),
      imageCreate,
      imageUpdate,
      deployed: rand() < 0.6 ? 1 : 0,
      alarmCount: rand() < 0.1 ? 1 + Math.floor(rand() * 3) : 0,
      hcCount: rand() < 0.15 ? 1 + Math.floor(rand() * 5) : 0,
      behaviour,
      ...(prescanned ? { previousScanAt: imageUpdate + Math.floor(rand() * 10 * DAY) } : {}),
    });
  };

  // Special images first, so their position is stable whatever the count.
  const home = registries[0] as Registry;
  add(home, 'scanq-sim', 'scan-fail', 'scan-fail', 'broken');
  add(home, 'scanq-sim', 'scan-timeout', 'scan-timeout', 'hangs');
  const unsupported = Math.max(2, Math.round(count * 0.03));
  for (let i = 0; i < unsupported; i++) add(unsupportedRegistry, 'scanq-gulf', pick(rand, REPO_NAMES.slice(0, 4)), 'normal');
  // Weighted towards the home ACR instance, as real accounts are.
  const weights = [0.4, 0.2, 0.15, 0.15, 0.1];
  // The last slot re-tags an earlier image: real registries list one item (own Uuid) per tag,
  // so one digest under several tags is several items. Appended last so every other image
  // keeps its seeded values whatever the count.
  while (images.length < count - 1) {
    let r = rand();
    let idx = 0;
    while (idx < weights.length - 1 && r >= (weights[idx] as number)) r -= weights[idx++] as number;
    const registry = registries[idx] as Registry;
    add(registry, pick(rand, registry.namespaces), pick(rand, REPO_NAMES), 'normal');
  }
  // A pre-scanned source: its digest is already paid for, so the re-tag needs no authorization.
  const source = [...images].reverse().find((i) => i.behaviour === 'normal' && i.previousScanAt !== undefined);
  if (source && images.length < count) {
    images.push({ ...source, uuid: uuidFrom(`${label}:uuid:${images.length}`), tag: 'prod' });
  }
  while (images.length < count) add(registries[0] as Registry, (registries[0] as Registry).namespaces[0] as string, 'nginx', 'normal');
  return images.slice(0, count);
}

export function seedAccounts(seed: string, imagesPerAccount: number): SeedAccount[] {
  return SIMULATOR_ACCOUNTS.alibaba.map((a) => ({
    name: a.name,
    accessKeyId: a.accessKeyId,
    accessKeySecret: a.accessKeySecret,
    region: a.region,
    images: seedAccountImages(seed, a.name, a.region, imagesPerAccount),
  }));
}
