import { taskImageKey } from '../core/call-counter.js';
import { ecrErrors } from './errors.js';
import { basicFinding, enhancedFinding, imageVulnerabilities, severityCounts, type Vulnerability } from './findings.js';
import type { EcrImage, EcrRegistry, EcrRepository, TagStatus } from './inventory.js';
import type { AwsEcrOptions } from './options.js';
import { decodeNextToken, encodeNextToken } from './paging.js';
import { SCAN_STATUS_DESCRIPTIONS, ScanBook, scanStatus, type ScanRecord } from './scans.js';
import {
  checkRepositoryName,
  enumValue,
  imageIdentifier,
  maxResults,
  optionalList,
  optionalObject,
  optionalString,
  registryId as requestedRegistryId,
  repositoryName as requestedRepositoryName,
  requireMember,
  type ImageIdentifier,
  type JsonObject,
} from './validation.js';

/** The account a request was signed for, and the regional endpoint it was aimed at. */
export interface Caller {
  registryId: string;
  region: string;
}

/** Everything an operation reads or changes. */
export interface EcrWorld {
  registries: ReadonlyMap<string, EcrRegistry>;
  scans: ScanBook;
  options: AwsEcrOptions;
  /** Simulator clock, epoch ms. */
  now: number;
  /** Counts a scan started (the call counter's `tasks.aws`). */
  taskCreated(imageKey: string): void;
}

export type Operation = (body: JsonObject, caller: Caller, world: EcrWorld) => unknown;

const DEFAULT_PAGE = 100;
const HOUR = 3600_000;

/** The operations this front end simulates, by X-Amz-Target operation name. */
export const OPERATIONS: Readonly<Record<string, Operation>> = {
  StartImageScan: startImageScan,
  DescribeImageScanFindings: describeImageScanFindings,
  DescribeImages: describeImages,
  DescribeRepositories: describeRepositories,
  DescribeRegistry: describeRegistry,
  GetRegistryScanningConfiguration: getRegistryScanningConfiguration,
};

function startImageScan(body: JsonObject, caller: Caller, world: EcrWorld): unknown {
  const { registryId, repository } = targetRepository(body, caller, world);
  const id = imageIdentifier(requireMember(body, 'imageId'), 'imageId');
  const image = resolveImage(repository, id, registryId);
  if (image.kind === 'unsupported') throw ecrErrors.unsupportedImageType();
  const key = ScanBook.key(registryId, repository.name, image.digest);
  if (world.scans.blocked(key, world.now)) {
    world.scans.noteLimitExceeded(key);
    throw ecrErrors.limitExceeded();
  }
  world.scans.start(key, world.now, world.options.scanDurationMs);
  world.taskCreated(taskImageKey(world.registries.get(registryId)?.account.name ?? registryId, repository.name, image.digest));
  return {
    registryId,
    repositoryName: repository.name,
    imageId: responseImageId(image, id),
    imageScanStatus: { status: 'IN_PROGRESS' },
  };
}

function describeImageScanFindings(body: JsonObject, caller: Caller, world: EcrWorld): unknown {
  const { registryId, repository } = targetRepository(body, caller, world);
  const id = imageIdentifier(requireMember(body, 'imageId'), 'imageId');
  const limit = maxResults(body, DEFAULT_PAGE);
  const image = resolveImage(repository, id, registryId);
  const offset = decodeNextToken(optionalString(body, 'nextToken'), `findings|${registryId}|${repository.name}|${image.digest}`);

  const record = world.scans.get(ScanBook.key(registryId, repository.name, image.digest));
  if (!record) throw ecrErrors.scanNotFound(id, repository.name, registryId);
  const status = scanStatus(record, image, world.now);
  const response: Record<string, unknown> = {
    registryId,
    repositoryName: repository.name,
    imageId: responseImageId(image, id),
    imageScanStatus: statusBody(status),
  };
  if (status !== 'COMPLETE') return response;

  const enhanced = repository.scanType === 'ENHANCED';
  const vulns = imageVulnerabilities(image.digest, world.options, enhanced);
  const page = vulns.slice(offset, offset + limit);
  const observedAt = record.completesAt / 1000;
  response.imageScanFindings = {
    ...findingsSummary(record, image, vulns, enhanced),
    ...(enhanced
      ? {
          enhancedFindings: page.map((v) =>
            enhancedFinding(v, { registryId, region: repository.region, repositoryName: repository.name, image, observedAt }),
          ),
        }
      : { findings: page.map(basicFinding) }),
  };
  if (offset + limit < vulns.length) {
    response.nextToken = encodeNextToken(`findings|${registryId}|${repository.name}|${image.digest}`, offset + limit);
  }
  return response;
}

function describeImages(body: JsonObject, caller: Caller, world: EcrWorld): unknown {
  const { registryId, repository } = targetRepository(body, caller, world);
  const imageIds = optionalList(body, 'imageIds', 1, 100);
  const filter = optionalObject(body, 'filter');
  const tagStatus = enumValue<TagStatus>(filter?.tagStatus, 'filter.tagStatus', ['TAGGED', 'UNTAGGED', 'ANY'], 'ANY');
  const imageStatus = enumValue(filter?.imageStatus, 'filter.imageStatus', ['ACTIVE', 'ARCHIVED', 'ACTIVATING', 'ANY'], 'ACTIVE');
  const detail = (image: EcrImage) => imageDetail(registryId, repository, image, world);

  if (imageIds) {
    if (body.maxResults !== undefined || body.nextToken !== undefined) {
      throw ecrErrors.invalidParameter("Invalid parameter at 'imageIds' failed to satisfy constraint: 'maxResults and nextToken cannot be used with imageIds'");
    }
    const seen = new Set<string>();
    const images: EcrImage[] = [];
    imageIds.forEach((raw, i) => {
      const image = resolveImage(repository, imageIdentifier(raw, `imageIds.${i + 1}.member`), registryId);
      if (!seen.has(image.digest)) {
        seen.add(image.digest);
        images.push(image);
      }
    });
    return { imageDetails: images.map(detail) };
  }

  const limit = maxResults(body, DEFAULT_PAGE);
  const scope = `images|${registryId}|${repository.name}|${tagStatus}|${imageStatus}`;
  const offset = decodeNextToken(optionalString(body, 'nextToken'), scope);
  // Every simulated image is ACTIVE: archived or activating ones do not exist here.
  if (imageStatus !== 'ACTIVE' && imageStatus !== 'ANY') return { imageDetails: [] };
  const page = repository.images.page(tagStatus, offset, limit);
  return {
    imageDetails: page.images.map(detail),
    ...(page.nextOffset !== undefined ? { nextToken: encodeNextToken(scope, page.nextOffset) } : {}),
  };
}

function describeRepositories(body: JsonObject, caller: Caller, world: EcrWorld): unknown {
  const registryId = requestedRegistryId(body, caller.registryId);
  const names = optionalList(body, 'repositoryNames', 1, 100)?.map((name, i) => {
    if (typeof name !== 'string') throw ecrErrors.serialization(`Unexpected value type for 'repositoryNames.${i + 1}.member'`);
    return checkRepositoryName(name, `repositoryNames.${i + 1}.member`);
  });
  const registry = callerRegistry(registryId, caller, world);
  if (names) {
    if (body.maxResults !== undefined || body.nextToken !== undefined) {
      throw ecrErrors.invalidParameter("Invalid parameter at 'repositoryNames' failed to satisfy constraint: 'maxResults and nextToken cannot be used with repositoryNames'");
    }
    return {
      repositories: names.map((name) => {
        const repository = registry?.repositories.get(name);
        if (!repository) throw ecrErrors.repositoryNotFound(name, registryId);
        return repositoryDetail(repository);
      }),
    };
  }
  const limit = maxResults(body, DEFAULT_PAGE);
  const scope = `repositories|${registryId}`;
  const offset = decodeNextToken(optionalString(body, 'nextToken'), scope);
  const all = [...(registry?.repositories.values() ?? [])];
  return {
    repositories: all.slice(offset, offset + limit).map(repositoryDetail),
    ...(offset + limit < all.length ? { nextToken: encodeNextToken(scope, offset + limit) } : {}),
  };
}

function describeRegistry(_body: JsonObject, caller: Caller): unknown {
  return { registryId: caller.registryId, replicationConfiguration: { rules: [] } };
}

function getRegistryScanningConfiguration(_body: JsonObject, caller: Caller, world: EcrWorld): unknown {
  const registry = callerRegistry(caller.registryId, caller, world);
  const scanOnPush = [...(registry?.repositories.values() ?? [])].filter((r) => r.scanOnPush && r.scanType === 'BASIC');
  return {
    registryId: caller.registryId,
    scanningConfiguration: {
      scanType: 'BASIC',
      rules:
        scanOnPush.length === 0
          ? []
          : [{ scanFrequency: 'SCAN_ON_PUSH', repositoryFilters: scanOnPush.map((r) => ({ filter: r.name, filterType: 'WILDCARD' })) }],
    },
  };
}

/**
 * The registry a request reaches: only the caller's own, and only at its home region (other
 * regional endpoints hold no repositories). Other accounts' registries stay invisible, as
 * without a cross-account policy.
 */
function callerRegistry(registryId: string, caller: Caller, world: EcrWorld): EcrRegistry | undefined {
  const registry = world.registries.get(registryId);
  if (!registry || registryId !== caller.registryId || registry.account.region !== caller.region) return undefined;
  return registry;
}

function targetRepository(body: JsonObject, caller: Caller, world: EcrWorld): { registryId: string; repository: EcrRepository } {
  const name = requestedRepositoryName(body);
  const registryId = requestedRegistryId(body, caller.registryId);
  const repository = callerRegistry(registryId, caller, world)?.repositories.get(name);
  if (!repository) throw ecrErrors.repositoryNotFound(name, registryId);
  return { registryId, repository };
}

/** Finds an image by digest and/or tag; when both are given they must name the same image. */
function resolveImage(repository: EcrRepository, id: ImageIdentifier, registryId: string): EcrImage {
  const byDigest = id.imageDigest !== undefined ? repository.images.byDigest(id.imageDigest) : undefined;
  const byTag = id.imageTag !== undefined ? repository.images.byTag(id.imageTag) : undefined;
  const image = byDigest ?? byTag;
  if (
    !image ||
    (id.imageDigest !== undefined && !byDigest) ||
    (id.imageTag !== undefined && !byTag) ||
    (byDigest && byTag && byDigest.digest !== byTag.digest)
  ) {
    throw ecrErrors.imageNotFound(id, repository.name, registryId);
  }
  return image;
}

function responseImageId(image: EcrImage, id: ImageIdentifier): ImageIdentifier {
  return { imageDigest: image.digest, ...(id.imageTag !== undefined ? { imageTag: id.imageTag } : {}) };
}

function statusBody(status: keyof typeof SCAN_STATUS_DESCRIPTIONS): Record<string, string> {
  const description = SCAN_STATUS_DESCRIPTIONS[status];
  return description === undefined ? { status } : { status, description };
}

function findingsSummary(record: ScanRecord, image: EcrImage, vulns: readonly Vulnerability[], enhanced: boolean) {
  // The vulnerability feed was last refreshed a few hours before the scan finished.
  const feedLag = (1 + (parseInt(image.digest.slice(-2), 16) % 6)) * HOUR;
  return {
    imageScanCompletedAt: record.completesAt / 1000,
    vulnerabilitySourceUpdatedAt: (Math.floor(record.completesAt / HOUR) * HOUR - feedLag) / 1000,
    findingSeverityCounts: severityCounts(vulns, enhanced),
  };
}

function imageDetail(registryId: string, repository: EcrRepository, image: EcrImage, world: EcrWorld): Record<string, unknown> {
  const detail: Record<string, unknown> = {
    registryId,
    repositoryName: repository.name,
    imageDigest: image.digest,
    ...(image.tags.length > 0 ? { imageTags: [...image.tags] } : {}),
    imageSizeInBytes: image.sizeInBytes,
    imagePushedAt: image.pushedAt / 1000,
    imageManifestMediaType: image.manifestMediaType,
    artifactMediaType: image.artifactMediaType,
    imageStatus: 'ACTIVE',
  };
  if (image.kind !== 'unsupported') detail.lastRecordedPullTime = (image.pushedAt + 60_000) / 1000;
  const record = world.scans.get(ScanBook.key(registryId, repository.name, image.digest));
  if (record) {
    const status = scanStatus(record, image, world.now);
    detail.imageScanStatus = statusBody(status);
    if (status === 'COMPLETE') {
      const enhanced = repository.scanType === 'ENHANCED';
      const vulns = imageVulnerabilities(image.digest, world.options, enhanced);
      detail.imageScanFindingsSummary = findingsSummary(record, image, vulns, enhanced);
    }
  }
  return detail;
}

function repositoryDetail(repository: EcrRepository): Record<string, unknown> {
  const { registryId, region, name } = repository;
  return {
    repositoryArn: `arn:aws:ecr:${region}:${registryId}:repository/${name}`,
    registryId,
    repositoryName: name,
    repositoryUri: `${registryId}.dkr.ecr.${region}.amazonaws.com/${name}`,
    createdAt: repository.createdAt / 1000,
    imageTagMutability: 'MUTABLE',
    imageScanningConfiguration: { scanOnPush: repository.scanOnPush },
    encryptionConfiguration: { encryptionType: 'AES256' },
  };
}
