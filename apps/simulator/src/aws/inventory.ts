import { sha256Hex } from '../core/seed.js';

/** `normal` images scan fine; `unsupported` artifacts cannot be scanned; `failing` scans end FAILED. */
export type ImageKind = 'normal' | 'unsupported' | 'failing';
export type RepositoryScanType = 'BASIC' | 'ENHANCED';
export type TagStatus = 'TAGGED' | 'UNTAGGED' | 'ANY';

export interface EcrImage {
  digest: string;
  tags: readonly string[];
  kind: ImageKind;
  /** Epoch ms on the simulator clock. */
  pushedAt: number;
  sizeInBytes: number;
  manifestMediaType: string;
  artifactMediaType: string;
}

/** The images of one repository, looked up by tag or digest, listed in push order. */
export interface ImageStore {
  readonly count: number;
  byTag(tag: string): EcrImage | undefined;
  byDigest(digest: string): EcrImage | undefined;
  /** Images passing `tagStatus`, starting at `offset`, at most `limit` of them. */
  page(tagStatus: TagStatus, offset: number, limit: number): { images: EcrImage[]; nextOffset?: number };
  /** A few images to show in `state()` when the store is too large to list. */
  sample(limit: number): EcrImage[];
}

export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';

function matchesTagStatus(image: EcrImage, tagStatus: TagStatus): boolean {
  if (tagStatus === 'TAGGED') return image.tags.length > 0;
  if (tagStatus === 'UNTAGGED') return image.tags.length === 0;
  return true;
}

/** A small repository held as a plain list with tag and digest indexes. */
export class ListImageStore implements ImageStore {
  private readonly tagIndex = new Map<string, EcrImage>();
  private readonly digestIndex = new Map<string, EcrImage>();

  constructor(private readonly images: readonly EcrImage[]) {
    for (const image of images) {
      this.digestIndex.set(image.digest, image);
      for (const tag of image.tags) this.tagIndex.set(tag, image);
    }
  }

  get count(): number {
    return this.images.length;
  }

  byTag(tag: string): EcrImage | undefined {
    return this.tagIndex.get(tag);
  }

  byDigest(digest: string): EcrImage | undefined {
    return this.digestIndex.get(digest);
  }

  page(tagStatus: TagStatus, offset: number, limit: number): { images: EcrImage[]; nextOffset?: number } {
    const matching = this.images.filter((i) => matchesTagStatus(i, tagStatus));
    const images = matching.slice(offset, offset + limit);
    return offset + limit < matching.length ? { images, nextOffset: offset + limit } : { images };
  }

  sample(limit: number): EcrImage[] {
    return this.images.slice(0, limit);
  }
}

/**
 * The load-test repository: image `i` is tagged `b-0000i` and derived on demand, so 100,000
 * images cost nothing until they are asked for. The digest ends with `i` in hex (the rest is a
 * hash of seed, registry and `i`), so a digest resolves back to its image without an index.
 */
export class BenchImageStore implements ImageStore {
  constructor(
    private readonly label: string,
    private readonly countNow: () => number,
    private readonly firstPushAt: number,
  ) {}

  get count(): number {
    return this.countNow();
  }

  at(index: number): EcrImage {
    const hash = sha256Hex(`${this.label}|${index}`);
    return {
      digest: `sha256:${hash.slice(0, 56)}${index.toString(16).padStart(8, '0')}`,
      tags: [benchTag(index)],
      kind: 'normal',
      pushedAt: this.firstPushAt + index * 1000,
      sizeInBytes: 20_000_000 + (parseInt(hash.slice(56, 62), 16) % 80_000_000),
      manifestMediaType: DOCKER_MANIFEST,
      artifactMediaType: DOCKER_CONFIG,
    };
  }

  byTag(tag: string): EcrImage | undefined {
    const m = /^b-(\d{5,})$/.exec(tag);
    if (!m) return undefined;
    const index = Number(m[1]);
    return index < this.count && benchTag(index) === tag ? this.at(index) : undefined;
  }

  byDigest(digest: string): EcrImage | undefined {
    const m = /^sha256:[0-9a-f]{56}([0-9a-f]{8})$/.exec(digest);
    if (!m) return undefined;
    const index = parseInt(m[1]!, 16);
    if (index >= this.count) return undefined;
    const image = this.at(index);
    return image.digest === digest ? image : undefined;
  }

  page(tagStatus: TagStatus, offset: number, limit: number): { images: EcrImage[]; nextOffset?: number } {
    // Every bench image is tagged.
    const total = tagStatus === 'UNTAGGED' ? 0 : this.count;
    const images: EcrImage[] = [];
    for (let i = offset; i < Math.min(total, offset + limit); i++) images.push(this.at(i));
    return offset + limit < total ? { images, nextOffset: offset + limit } : { images };
  }

  sample(limit: number): EcrImage[] {
    return this.page('ANY', 0, limit).images;
  }
}

export function benchTag(index: number): string {
  return `b-${String(index).padStart(5, '0')}`;
}

export interface EcrRepository {
  registryId: string;
  region: string;
  name: string;
  /** Epoch ms. */
  createdAt: number;
  scanOnPush: boolean;
  /** Simulator simplification: ECR sets the scan type per registry; here a repository can be ENHANCED. */
  scanType: RepositoryScanType;
  images: ImageStore;
}

/** A scan that happened before the simulator started (scan on push, or an old manual scan). */
export interface SeededScan {
  repositoryName: string;
  digest: string;
  startedAt: number;
  durationMs: number;
  trigger: 'push' | 'manual';
}

export interface RegistryAccount {
  name: string;
  registryId: string;
  region: string;
  accessKeyId: string;
}

/** Pointers to the images that trigger particular behaviours, so tests need not search. */
export interface SpecialImages {
  /** Several tags on one digest (`latest`, a version, `stable`). */
  multiTag: ImageRef;
  untagged: ImageRef;
  /** A cosign signature artifact: StartImageScan → UnsupportedImageTypeException. */
  unsupported: ImageRef;
  /** Scans of it end FAILED (UnsupportedImageError). */
  failing: ImageRef;
  /** Never scanned: DescribeImageScanFindings → ScanNotFoundException until started. */
  neverScanned: ImageRef;
  /** Scanned on push a few hours ago: LimitExceeded on start, findings already COMPLETE. */
  scannedOnPush: ImageRef;
  /** Scanned by hand three days ago: COMPLETE findings and a start is allowed again. */
  scannedDaysAgo: ImageRef;
  /** ENHANCED repository image scanned on push: COMPLETE with `enhancedFindings`. */
  enhanced: ImageRef;
  benchRepository: string;
}

export interface ImageRef {
  repositoryName: string;
  digest: string;
  tags: readonly string[];
}

export interface EcrRegistry {
  account: RegistryAccount;
  repositories: Map<string, EcrRepository>;
  seededScans: SeededScan[];
  special: SpecialImages;
}
