import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import { seededRandom, sha256Hex } from '../core/seed.js';
import {
  BenchImageStore,
  DOCKER_CONFIG,
  DOCKER_MANIFEST,
  ListImageStore,
  type EcrImage,
  type EcrRegistry,
  type EcrRepository,
  type ImageKind,
  type ImageRef,
  type RepositoryScanType,
  type SeededScan,
} from './inventory.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

interface ImageSpec {
  tags: string[];
  kind?: ImageKind;
  /** How long before seed time the image was pushed. */
  pushedAgoMs: number;
  /** Tags of the image this artifact signs (cosign `sha256-<hex>.sig`). */
  signs?: number;
}

interface RepositorySpec {
  name: string;
  scanOnPush: boolean;
  scanType: RepositoryScanType;
  images: ImageSpec[];
}

export const BENCH_REPOSITORY = 'bench/images';

/**
 * The repositories every account gets. Push times are fixed offsets before seed time, plus
 * a little seeded jitter, so the 24 h scan window behaves the same on every run.
 */
function repositorySpecs(jitter: () => number): RepositorySpec[] {
  const daysAgo = (d: number) => d * DAY + Math.floor(jitter() * HOUR);
  const hoursAgo = (h: number) => h * HOUR + Math.floor(jitter() * 10 * 60_000);
  return [
    {
      name: 'scanq/api',
      scanOnPush: false,
      scanType: 'BASIC',
      images: [
        { tags: ['latest', '1.4.2', 'stable'], pushedAgoMs: daysAgo(2) },
        { tags: ['1.4.1'], pushedAgoMs: daysAgo(9) },
        { tags: ['1.4.0', '1.4'], pushedAgoMs: daysAgo(16) },
        { tags: ['1.3.9'], pushedAgoMs: daysAgo(30) },
        { tags: [], pushedAgoMs: daysAgo(41) },
        { tags: ['1.3.8'], pushedAgoMs: daysAgo(55) },
        // A cosign signature of `latest`: an OCI artifact, not an image ECR can scan.
        { tags: [], kind: 'unsupported', signs: 0, pushedAgoMs: daysAgo(2) - 60_000 },
      ],
    },
    {
      name: 'scanq/web',
      scanOnPush: false,
      scanType: 'BASIC',
      images: [
        { tags: ['latest', '2.0.1'], pushedAgoMs: daysAgo(1) },
        { tags: ['2.0.0'], pushedAgoMs: daysAgo(6) },
        { tags: ['1.9.7'], pushedAgoMs: daysAgo(20) },
        { tags: [], pushedAgoMs: daysAgo(33) },
        { tags: ['1.9.6-rc1'], pushedAgoMs: daysAgo(47) },
      ],
    },
    {
      name: 'scanq/worker',
      scanOnPush: false,
      scanType: 'BASIC',
      images: [
        { tags: ['latest', '3.1.0'], pushedAgoMs: daysAgo(3) },
        { tags: ['3.0.2'], pushedAgoMs: daysAgo(12) },
        { tags: ['3.0.1'], pushedAgoMs: daysAgo(25) },
        // Built FROM scratch: ECR's scanner finds no OS, so its scans end FAILED.
        { tags: ['legacy-scratch'], kind: 'failing', pushedAgoMs: daysAgo(60) },
      ],
    },
    {
      name: 'library/nginx',
      scanOnPush: true,
      scanType: 'BASIC',
      images: [
        { tags: ['latest', '1.27.3', 'mainline'], pushedAgoMs: hoursAgo(2) },
        { tags: ['1.27.2'], pushedAgoMs: hoursAgo(5) },
        { tags: ['1.26.2', 'stable'], pushedAgoMs: hoursAgo(8) },
        { tags: ['1.25.5'], pushedAgoMs: hoursAgo(11) },
        { tags: [], pushedAgoMs: hoursAgo(14) },
      ],
    },
    {
      name: 'team-a/payments',
      scanOnPush: true,
      scanType: 'ENHANCED',
      images: [
        { tags: ['latest', '2024.11.0'], pushedAgoMs: hoursAgo(3) },
        { tags: ['2024.10.2'], pushedAgoMs: hoursAgo(20) },
        { tags: ['2024.10.1'], pushedAgoMs: daysAgo(8) },
        { tags: ['2024.09.0'], pushedAgoMs: daysAgo(21) },
      ],
    },
  ];
}

/**
 * Seeds one registry per simulator AWS account, deterministically from `seed`. `nowMs` is the
 * simulator clock at reset; `benchImages` is read live so `configure()` can resize the
 * load-test repository without re-seeding.
 */
export function seedRegistries(seed: string, nowMs: number, benchImages: () => number): EcrRegistry[] {
  return SIMULATOR_ACCOUNTS.aws.map((account) => {
    const label = `${seed}|aws|${account.registryId}`;
    const rand = seededRandom(label);
    const repositories = new Map<string, EcrRepository>();
    const seededScans: SeededScan[] = [];
    const refs = new Map<string, ImageRef[]>();

    for (const spec of repositorySpecs(rand)) {
      const images: EcrImage[] = [];
      spec.images.forEach((imageSpec, index) => {
        const hash = sha256Hex(`${label}|${spec.name}|${index}`);
        const signed = imageSpec.signs === undefined ? undefined : images[imageSpec.signs];
        const unsupported = imageSpec.kind === 'unsupported';
        images.push({
          digest: `sha256:${hash}`,
          tags: signed ? [`${signed.digest.replace(':', '-')}.sig`] : imageSpec.tags,
          kind: imageSpec.kind ?? 'normal',
          pushedAt: nowMs - imageSpec.pushedAgoMs,
          sizeInBytes: unsupported ? 400 + (parseInt(hash.slice(0, 4), 16) % 600) : 5_000_000 + (parseInt(hash.slice(0, 8), 16) % 150_000_000),
          manifestMediaType: unsupported ? 'application/vnd.oci.image.manifest.v1+json' : DOCKER_MANIFEST,
          artifactMediaType: unsupported ? 'application/vnd.dev.cosign.artifact.sig.v1+json' : DOCKER_CONFIG,
        });
      });
      repositories.set(spec.name, {
        registryId: account.registryId,
        region: account.region,
        name: spec.name,
        createdAt: nowMs - 200 * DAY - Math.floor(rand() * 100 * DAY),
        scanOnPush: spec.scanOnPush,
        scanType: spec.scanType,
        images: new ListImageStore(images),
      });
      refs.set(spec.name, images.map((i) => ({ repositoryName: spec.name, digest: i.digest, tags: i.tags })));
      if (spec.scanOnPush) {
        for (const image of images) {
          seededScans.push({
            repositoryName: spec.name,
            digest: image.digest,
            startedAt: image.pushedAt + 2000,
            durationMs: 20_000 + Math.floor(rand() * 70_000),
            trigger: 'push',
          });
        }
      }
    }

    const ref = (repositoryName: string, index: number): ImageRef => refs.get(repositoryName)![index]!;
    // One manual scan three days ago: its findings are COMPLETE and a new start is allowed.
    const scannedDaysAgo = ref('scanq/web', 1);
    seededScans.push({
      repositoryName: scannedDaysAgo.repositoryName,
      digest: scannedDaysAgo.digest,
      startedAt: nowMs - 3 * DAY,
      durationMs: 45_000,
      trigger: 'manual',
    });

    repositories.set(BENCH_REPOSITORY, {
      registryId: account.registryId,
      region: account.region,
      name: BENCH_REPOSITORY,
      createdAt: nowMs - 40 * DAY,
      scanOnPush: false,
      scanType: 'BASIC',
      images: new BenchImageStore(`${label}|${BENCH_REPOSITORY}`, benchImages, nowMs - 30 * DAY),
    });

    return {
      account: {
        name: account.name,
        registryId: account.registryId,
        region: account.region,
        accessKeyId: account.accessKeyId,
      },
      repositories,
      seededScans,
      special: {
        multiTag: ref('scanq/api', 0),
        untagged: ref('scanq/api', 4),
        unsupported: ref('scanq/api', 6),
        failing: ref('scanq/worker', 3),
        neverScanned: ref('scanq/api', 1),
        scannedOnPush: ref('library/nginx', 0),
        scannedDaysAgo,
        enhanced: ref('team-a/payments', 0),
        benchRepository: BENCH_REPOSITORY,
      },
    };
  });
}
