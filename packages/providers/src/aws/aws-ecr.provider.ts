import {
  DescribeImageScanFindingsCommand,
  type DescribeImageScanFindingsCommandOutput,
  type ImageDetail,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  StartImageScanCommand,
} from '@aws-sdk/client-ecr';
import { type AwsScanTarget, ProviderError, type ScanReason } from '@scanq/core';
import { observeCall, type ProviderDeps, timeoutsOf } from '../contract.js';
import type { BulkCapable, FindingsPage, ImageProgress, ImageRef, InventoryImage, InventoryQuery, PlannedScan, PriorScan, ProviderAccount, ScanProgress, ScanProvider, StartedScan } from '../contract.js';
import { ProviderTransport } from '../transport.js';
import { AwsCredentials } from './credentials.js';
import { toProviderError } from './errors.js';
import { EcrImageDetailBatcher } from './image-detail-batcher.js';
import { normalizeBasicFinding, normalizeEnhancedFinding } from './normalize.js';

/** Statuses of DescribeImageScanFindings (botocore ScanStatus) and what they mean for scanq. */
const SCANNING = new Set(['IN_PROGRESS', 'PENDING']);
const COMPLETE = new Set(['COMPLETE', 'ACTIVE']);
const FAILED_REASON: Record<string, ScanReason> = {
  FAILED: 'scan_failed',
  UNSUPPORTED_IMAGE: 'unsupported_image_type',
  SCAN_ELIGIBILITY_EXPIRED: 'scan_failed',
  FINDINGS_UNAVAILABLE: 'scan_failed',
  LIMIT_EXCEEDED: 'scan_failed',
  IMAGE_ARCHIVED: 'unsupported_image_type',
};

/** What the inventory (DescribeImages) recorded about an image's last scan, kept on its row. */
export interface EcrInventoryEntry {
  listedAt: string;
  imageScanStatus: string | null;
  imageScanCompletedAt: string | null;
}

/**
 * The prior scan an inventory entry shows (null: none), or undefined when `raw` is not an
 * inventory entry (a bulk listing or a tag resolution). Saves the DescribeImageScanFindings look-up; a scan
 * someone started since the listing still surfaces as LimitExceeded and is reused then.
 */
export function inventoryPriorScan(raw: unknown): PriorScan | null | undefined {
  const entry = raw as Partial<EcrInventoryEntry> | null;
  if (!entry || typeof entry.listedAt !== 'string') return undefined;
  const status = entry.imageScanStatus ?? '';
  if (!status) return null;
  if (SCANNING.has(status)) return { state: 'in_progress' };
  const at = entry.imageScanCompletedAt ? new Date(entry.imageScanCompletedAt) : undefined;
  return { state: COMPLETE.has(status) ? 'complete' : 'failed', ...(at ? { at } : {}) };
}

/** Errors that mean the session token (not the role) was refused: expired, or unknown to the cloud. */
const TOKEN_REFUSED = new Set(['ExpiredTokenException', 'ExpiredToken', 'UnrecognizedClientException']);

/** Page size for findings: the API maximum, so most images need one call. */
const FINDINGS_PAGE = 1000;

/**
 * Config media types of what ECR scanning takes: Docker and OCI container images. Anything else
 * the listing shows (a cosign signature, a Helm chart, an SBOM) gets UnsupportedImageType.
 */
const SCANNABLE_CONFIG_TYPES = new Set(['application/vnd.docker.container.image.v1+json', 'application/vnd.oci.image.config.v1+json']);
/** Unknown (older images carry no artifactMediaType) counts as scannable: the start decides. */
const scannableArtifact = (artifactMediaType: string | undefined) => !artifactMediaType || SCANNABLE_CONFIG_TYPES.has(artifactMediaType);

/** DescribeRepositories' `repositoryNames` takes at most 100 names. */
const DESCRIBE_REPOSITORIES_MAX_NAMES = 100;

/**
 * AWS ECR basic/enhanced scanning through the real `@aws-sdk/client-ecr`. The endpoint and
 * credentials come from the account, so the same code talks to AWS or the simulator.
 * SDK retries are off: retry policy lives in one place, the queue (attempts + backoff).
 */
export class AwsEcrProvider implements ScanProvider<AwsScanTarget>, BulkCapable<AwsScanTarget> {
  readonly provider = 'aws' as const;
  /** One client per account, under the key it was built for (endpoint, region, credentials fingerprint). */
  private readonly clients = new Map<string, { key: string; client: ECRClient }>();
  private readonly credentials: AwsCredentials;
  /** Tag resolutions of concurrent scans of one repository share DescribeImages calls. */
  private readonly imageDetails = new EcrImageDetailBatcher();

  private readonly transport: ProviderTransport;

  constructor(private readonly deps: ProviderDeps = {}) {
    this.transport = new ProviderTransport(deps);
    this.credentials = new AwsCredentials(deps, this.transport);
  }

  private client(account: ProviderAccount): ECRClient {
    // Keyed by what the credentials are built from (a digest): a rotated secret set or a changed source builds a new client.
    const credentials = this.credentials.for(account);
    const key = `${account.endpoint ?? ''}|${account.region}|${credentials.fingerprint}`;
    let cached = this.clients.get(account.id);
    let client = cached?.key === key ? cached.client : undefined;
    if (!client) {
      const timeouts = timeoutsOf(this.deps);
      client = new ECRClient({
        region: account.region,
        ...(account.endpoint ? { endpoint: account.endpoint } : {}),
        ...(credentials.provider ? { credentials: credentials.provider } : {}),
        maxAttempts: 1,
        // Without throwOnRequestTimeout the handler only logs a warning when requestTimeout
        // passes and the call hangs on (a StartImageScan that never answered held its job for hours).
        requestHandler: {
          connectionTimeout: timeouts.connectMs,
          requestTimeout: timeouts.requestMs,
          throwOnRequestTimeout: true,
          httpAgent: this.transport.agent(account, 'http:'),
          httpsAgent: this.transport.agent(account, 'https:'),
        },
        // The middleware stack is fixed once built here: resolve it once per command type,
        // not on every send (the SDK's documented 0–1 ms a request).
        cacheMiddleware: true,
      });
      // The SDK's logger middleware deep-copies every input and output through its sensitive-data
      // filter before calling logger.info, even the default no-op logger's: scanq logs calls itself.
      client.middlewareStack.remove('loggerMiddleware');
      // A session token the cloud calls expired (or no longer knows): the next call assumes the role anew.
      client.middlewareStack.add(
        (next) => async (args) => {
          try {
            return await next(args);
          } catch (err) {
            if (TOKEN_REFUSED.has((err as { name?: string })?.name ?? '')) this.credentials.invalidate(account.id);
            throw err;
          }
        },
        { step: 'initialize', name: 'scanqInvalidateRefusedToken' },
      );
      const observer = this.deps.observer;
      if (observer) {
        // Every ECR call, whichever method sends it, is timed and counted by its operation name.
        client.middlewareStack.add(
          (next, context) => (args) =>
            observeCall(observer, { provider: 'aws', accountId: account.id, api: String(context.commandName ?? 'Unknown').replace(/Command$/, '') }, () => next(args)),
          { step: 'initialize', name: 'scanqObserveCall' },
        );
      }
      cached = { key, client };
      this.clients.set(account.id, cached);
    }
    return client;
  }

  private registryId(account: ProviderAccount, target: { registryId?: string }): string | undefined {
    return target.registryId ?? (typeof account.settings.registryId === 'string' ? account.settings.registryId : undefined);
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      this.transport.assertRunning();
      return await fn();
    } catch (err) {
      throw this.transport.failure(err, toProviderError);
    }
  }

  /** DescribeImages lists one entry per digest with all its tags, and planScans is one scan per image. */
  readonly listsEachDigestOnce = true;

  /**
   * Inventory: DescribeRepositories (named ones when the selector names them) then
   * DescribeImages per repository, both fully paged at their maximum page sizes.
   */
  async *listImages(account: ProviderAccount, query: InventoryQuery): AsyncIterable<InventoryImage[]> {
    const registryId = query.registries?.length === 1 ? query.registries[0] : this.registryId(account, {});
    const repositories = query.repositories?.length ? await this.namedRepositories(account, registryId, [...new Set(query.repositories)]) : await this.allRepositories(account, registryId);
    for (const repositoryName of repositories) {
      let next: string | undefined;
      do {
        const out = await this.call(() =>
          this.client(account).send(new DescribeImagesCommand({ repositoryName, ...(registryId ? { registryId } : {}), maxResults: 1000, ...(next ? { nextToken: next } : {}) })),
        );
        yield (out.imageDetails ?? [])
          .filter((d) => d.imageDigest)
          .map((d) => ({
            registry: d.registryId ?? registryId ?? '',
            repository: d.repositoryName ?? repositoryName,
            digest: d.imageDigest!,
            tags: d.imageTags ?? [],
            pushedAt: d.imagePushedAt ?? null,
            namespace: repositoryName.includes('/') ? repositoryName.slice(0, repositoryName.lastIndexOf('/')) : null,
            region: account.region,
            ...(scannableArtifact(d.artifactMediaType) ? {} : { unscannable: 'unsupported_image_type' as const }),
            // The listing already says whether and when the image was last scanned: the start
            // policy reads this instead of asking the cloud again (see inventoryPriorScan).
            raw: this.inventoryEntry(d),
          }));
        next = out.nextToken;
      } while (next);
    }
  }

  /**
   * The named repositories this registry has. DescribeRepositories takes up to 100 names and
   * fails the whole call when one is missing (RepositoryNotFoundException): such a batch is
   * asked again one name per call, so a name this account lacks (a selector spanning clouds, a
   * typo) drops that name alone, not the account.
   */
  private async namedRepositories(account: ProviderAccount, registryId: string | undefined, names: string[]): Promise<string[]> {
    // The names ECR knows of `repositoryNames`, or null when it said one of them is missing.
    const known = async (repositoryNames: string[]): Promise<string[] | null> => {
      try {
        const out = await this.call(() => this.client(account).send(new DescribeRepositoriesCommand({ ...(registryId ? { registryId } : {}), repositoryNames })));
        return (out.repositories ?? []).flatMap((r) => (r.repositoryName ? [r.repositoryName] : []));
      } catch (err) {
        if (err instanceof ProviderError && err.code === 'RepositoryNotFoundException') return null;
        throw err;
      }
    };
    const found: string[] = [];
    for (let i = 0; i < names.length; i += DESCRIBE_REPOSITORIES_MAX_NAMES) {
      const batch = names.slice(i, i + DESCRIBE_REPOSITORIES_MAX_NAMES);
      const all = await known(batch);
      if (all) found.push(...all);
      else if (batch.length > 1) for (const name of batch) found.push(...((await known([name])) ?? []));
    }
    return found;
  }

  /** Every repository of the registry, paged at DescribeRepositories' maximum. */
  private async allRepositories(account: ProviderAccount, registryId: string | undefined): Promise<string[]> {
    const found: string[] = [];
    let token: string | undefined;
    do {
      const out = await this.call(() =>
        this.client(account).send(new DescribeRepositoriesCommand({ ...(registryId ? { registryId } : {}), maxResults: 1000, ...(token ? { nextToken: token } : {}) })),
      );
      for (const r of out.repositories ?? []) if (r.repositoryName) found.push(r.repositoryName);
      token = out.nextToken;
    } while (token);
    return found;
  }

  private inventoryEntry(d: ImageDetail): EcrInventoryEntry {
    return {
      listedAt: new Date().toISOString(),
      imageScanStatus: d.imageScanStatus?.status ?? null,
      imageScanCompletedAt: d.imageScanFindingsSummary?.imageScanCompletedAt?.toISOString() ?? null,
    };
  }

  /** ECR scans one image per StartImageScan: one scan per digest, addressed by digest. */
  planScans(account: ProviderAccount, images: InventoryImage[]): PlannedScan<AwsScanTarget>[] {
    const own = this.registryId(account, {});
    return images.map((image) => ({
      target: { repositoryName: image.repository, ...(image.registry && image.registry !== own ? { registryId: image.registry } : {}), imageId: { imageDigest: image.digest! } },
      images: [image],
    }));
  }

  /** Tag → digest (and every tag on that digest): the same digest under several tags is one image. */
  async resolveImages(account: ProviderAccount, target: AwsScanTarget): Promise<ImageRef[]> {
    const registryId = this.registryId(account, target);
    const detail = await this.imageDetails.detail(`${account.id}|${registryId ?? ''}|${target.repositoryName}`, target.imageId, async (imageIds) => {
      const out = await this.call(() =>
        this.client(account).send(new DescribeImagesCommand({ repositoryName: target.repositoryName, ...(registryId ? { registryId } : {}), imageIds })),
      );
      return out.imageDetails ?? [];
    });
    if (!detail?.imageDigest) throw new ProviderError('terminal', 'ImageNotFoundException', `no image ${JSON.stringify(target.imageId)} in ${target.repositoryName}`, 'image_not_found');
    if (target.imageId.imageDigest && detail.imageDigest !== target.imageId.imageDigest) {
      throw new ProviderError('terminal', 'ImageNotFoundException', `tag ${target.imageId.imageTag} does not point at ${target.imageId.imageDigest}`, 'image_not_found');
    }
    return [
      {
        registry: detail.registryId ?? registryId ?? '',
        repository: detail.repositoryName ?? target.repositoryName,
        digest: detail.imageDigest,
        tags: detail.imageTags ?? (target.imageId.imageTag ? [target.imageId.imageTag] : []),
        // DescribeImages already says whether and when the image was last scanned: the start
        // policy reads it instead of a DescribeImageScanFindings call (see inventoryPriorScan).
        raw: this.inventoryEntry(detail),
      },
    ];
  }

  private describeFindings(account: ProviderAccount, image: ImageRef, maxResults: number, nextToken?: string): Promise<DescribeImageScanFindingsCommandOutput> {
    return this.call(() =>
      this.client(account).send(
        new DescribeImageScanFindingsCommand({
          repositoryName: image.repository,
          ...(image.registry ? { registryId: image.registry } : {}),
          imageId: { imageDigest: image.digest ?? undefined },
          maxResults,
          ...(nextToken ? { nextToken } : {}),
        }),
      ),
    );
  }

  async latestScan(account: ProviderAccount, image: ImageRef): Promise<PriorScan | null> {
    try {
      const out = await this.describeFindings(account, image, 1);
      const status = out.imageScanStatus?.status ?? '';
      if (SCANNING.has(status)) return { state: 'in_progress' };
      if (COMPLETE.has(status)) return { state: 'complete', at: out.imageScanFindings?.imageScanCompletedAt };
      return { state: 'failed', at: out.imageScanFindings?.imageScanCompletedAt };
    } catch (err) {
      if (err instanceof ProviderError && err.code === 'ScanNotFoundException') return null;
      throw err;
    }
  }

  async startScan(account: ProviderAccount, _target: AwsScanTarget, images: ImageRef[]): Promise<StartedScan> {
    const image = images[0];
    if (!image?.digest) throw new ProviderError('terminal', 'InvalidParameterException', 'an ECR scan needs a resolved image digest', 'invalid_parameter');
    await this.call(() =>
      this.client(account).send(
        new StartImageScanCommand({
          repositoryName: image.repository,
          ...(image.registry ? { registryId: image.registry } : {}),
          imageId: { imageDigest: image.digest ?? undefined },
        }),
      ),
    );
    return { taskId: image.digest };
  }

  /**
   * ECR runs one scan per image per 24 h, so a scan in progress, or one that ended (COMPLETE or
   * FAILED) at or after `since`, is the scan an ambiguous StartImageScan asked for (or one that
   * made it needless): its digest is the task id, as startScan's. ScanNotFound or a scan that
   * ended before `since` means none was started. A FAILED scan without `imageScanCompletedAt`
   * cannot be placed in time: null then, and a new start meets LimitExceeded, which the start
   * policy already takes as a scan to reuse.
   */
  async findStartedScan(account: ProviderAccount, _target: AwsScanTarget, images: ImageRef[], since: Date): Promise<StartedScan | null> {
    const image = images[0];
    if (!image?.digest) return null;
    const scan = await this.latestScan(account, image);
    if (!scan) return null;
    if (scan.state === 'in_progress' || (scan.at && scan.at.getTime() >= since.getTime())) return { taskId: image.digest };
    return null;
  }

  async pollScan(account: ProviderAccount, task: { images: ImageRef[] }): Promise<ScanProgress> {
    const images: ImageProgress[] = [];
    for (const [index, image] of task.images.entries()) {
      const out = await this.describeFindings(account, image, FINDINGS_PAGE);
      const status = out.imageScanStatus?.status ?? 'UNKNOWN';
      const raw = { imageScanStatus: out.imageScanStatus, findingSeverityCounts: out.imageScanFindings?.findingSeverityCounts };
      if (SCANNING.has(status)) images.push({ index, state: 'scanning', raw });
      else if (COMPLETE.has(status)) images.push({ index, state: 'succeeded', raw, firstPage: this.page(out) });
      else images.push({ index, state: 'failed', reason: FAILED_REASON[status] ?? 'scan_failed', message: out.imageScanStatus?.description ?? status, raw });
    }
    const done = images.filter((i) => i.state !== 'scanning').length;
    return { progress: Math.round((done / Math.max(1, images.length)) * 100), images };
  }

  async listFindings(account: ProviderAccount, image: ImageRef, cursor?: string): Promise<FindingsPage> {
    return this.page(await this.describeFindings(account, image, FINDINGS_PAGE, cursor));
  }

  private page(out: DescribeImageScanFindingsCommandOutput): FindingsPage {
    const f = out.imageScanFindings;
    return {
      findings: [...(f?.findings ?? []).map(normalizeBasicFinding), ...(f?.enhancedFindings ?? []).map(normalizeEnhancedFinding)],
      ...(out.nextToken ? { nextCursor: out.nextToken } : {}),
      ...(f?.imageScanCompletedAt ? { scanCompletedAt: f.imageScanCompletedAt } : {}),
    };
  }
}
