import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import type { SimContext } from '../core/context.js';
import type { CloudFrontEnd, SimRequest, SimResponse } from '../core/frontend.js';
import { EcrError, ecrErrors, errorResponse, jsonResponse } from './errors.js';
import { OPERATIONS, type EcrWorld } from './handlers.js';
import type { EcrImage, EcrRegistry, EcrRepository } from './inventory.js';
import { mergeOptions, optionsFromEnv, type AwsEcrOptions } from './options.js';
import { ScanBook, scanStatus } from './scans.js';
import { BENCH_REPOSITORY, seedRegistries } from './seed.js';
import { verifySigV4 } from './signature.js';
import { handleSts, isStsRequest, stsAction, StsSessions } from './sts.js';
import type { JsonObject } from './validation.js';

export type { AwsEcrOptions } from './options.js';

/** What the ECR SDK puts before the operation name in `X-Amz-Target`. */
export const ECR_TARGET_PREFIX = 'AmazonEC2ContainerRegistry_V20150921.';

/**
 * Amazon ECR (2015-09-21) as `@aws-sdk/client-ecr` sees it: awsJson 1.1 over `POST /`,
 * SigV4-signed with the simulator accounts' keys. Simulates the image-scanning surface —
 * StartImageScan (24 h per-image window, scan on push included), DescribeImageScanFindings
 * (basic and enhanced findings derived from the digest), DescribeImages, DescribeRepositories,
 * DescribeRegistry, GetRegistryScanningConfiguration — over a seeded inventory per account.
 *
 * Options: `SIM_AWS_SCAN_MS` (scan duration, default 3000), `SIM_AWS_FINDINGS` (fixed findings
 * per image), `SIM_AWS_BENCH_IMAGES` (size of `bench/images`, default 200), `SIM_AWS_STS_TOKEN_MS`
 * (STS session lifetime, default as asked).
 *
 * STS AssumeRole is served here too (sts.ts), so the sessions it issues are checked on every ECR call.
 */
export function createAwsEcrFrontEnd(env: Record<string, string>): CloudFrontEnd {
  let options: AwsEcrOptions = optionsFromEnv(env);
  let registries = new Map<string, EcrRegistry>();
  let scans = new ScanBook();
  let sessions = new StsSessions();
  let context: SimContext | undefined;
  const accounts = new Map<string, (typeof SIMULATOR_ACCOUNTS.aws)[number]>(
    SIMULATOR_ACCOUNTS.aws.map((a) => [a.accessKeyId, a]),
  );
  const byRegistry = new Map<string, (typeof SIMULATOR_ACCOUNTS.aws)[number]>(SIMULATOR_ACCOUNTS.aws.map((a) => [a.registryId, a]));

  const now = () => context?.clock.now() ?? Date.now();

  return {
    cloud: 'aws',

    // ECR (awsJson, X-Amz-Target) and STS (Query protocol: Action and Version in the form body).
    matches: (req) => target(req).startsWith(ECR_TARGET_PREFIX) || isStsRequest(req),

    apiName: (req) => (target(req) ? target(req).slice(ECR_TARGET_PREFIX.length) || 'Unknown' : stsAction(req)),

    faultResponse(kind) {
      const { outcome: _code, ...res } = errorResponse(kind === 'server_error' ? ecrErrors.server() : ecrErrors.throttling());
      // Leave the outcome unset so the call counter records it as `fault:<kind>`.
      return res;
    },

    async handle(req: SimRequest, ctx: SimContext): Promise<SimResponse> {
      if (!target(req)) return handleSts(req, { sessions, tokenMs: options.stsTokenMs });
      try {
        const signer = verifySigV4(req, (accessKeyId) => accounts.get(accessKeyId)?.secretAccessKey ?? sessions.get(accessKeyId)?.secretAccessKey);
        // Every call's session token is checked: unknown → UnrecognizedClient, expired → ExpiredToken.
        const token = req.headers['x-amz-security-token'];
        const session = sessions.checkToken(signer.accessKeyId, Array.isArray(token) ? token[0] : token);
        const account = session ? byRegistry.get(session.registryId)! : accounts.get(signer.accessKeyId)!;
        const operationName = target(req).slice(ECR_TARGET_PREFIX.length);
        const operation = OPERATIONS[operationName];
        if (!operation) throw ecrErrors.unknownOperation(target(req));
        const world: EcrWorld = { registries, scans, options, now: ctx.clock.now(), taskCreated: (image) => ctx.calls.recordTask('aws', [image]) };
        return jsonResponse(operation(parseBody(req.rawBody), { registryId: account.registryId, region: signer.region }, world));
      } catch (err) {
        if (err instanceof EcrError) return errorResponse(err);
        console.error('aws ecr simulator: unexpected error', err);
        return errorResponse(ecrErrors.server());
      }
    },

    reset(ctx: SimContext): void {
      context = ctx;
      scans = new ScanBook();
      sessions = new StsSessions();
      const seeded = seedRegistries(ctx.seed, ctx.clock.now(), () => options.benchImages);
      registries = new Map(seeded.map((r) => [r.account.registryId, r]));
      for (const registry of seeded) {
        for (const s of registry.seededScans) {
          scans.seed(ScanBook.key(registry.account.registryId, s.repositoryName, s.digest), {
            startedAt: s.startedAt,
            completesAt: s.startedAt + s.durationMs,
            trigger: s.trigger,
          });
        }
      }
    },

    configure(input: Record<string, unknown>): void {
      options = mergeOptions(options, input);
    },

    state: () => inventoryState(registries, scans, options, now()),
  };
}

function target(req: SimRequest): string {
  const value = req.headers['x-amz-target'];
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

function parseBody(raw: Buffer): JsonObject {
  if (raw.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw ecrErrors.serialization('Start of structure or map found where not expected.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw ecrErrors.serialization('Request body must be a JSON object.');
  }
  return parsed as JsonObject;
}

const BENCH_SAMPLE = 3;

/** `GET /_sim/state/aws`: the seeded inventory with each image's scan state, plus counters. */
function inventoryState(registries: Map<string, EcrRegistry>, scans: ScanBook, options: AwsEcrOptions, now: number) {
  const imageState = (registry: EcrRegistry, repository: EcrRepository, image: EcrImage) => {
    const record = scans.get(ScanBook.key(registry.account.registryId, repository.name, image.digest));
    return {
      digest: image.digest,
      tags: [...image.tags],
      kind: image.kind,
      pushedAt: image.pushedAt,
      lastScanAt: record?.startedAt ?? null,
      lastScanTrigger: record?.trigger ?? null,
      scanCompletesAt: record?.completesAt ?? null,
      scanStatus: record ? scanStatus(record, image, now) : null,
    };
  };
  return {
    now,
    options,
    accounts: [...registries.values()].map((registry) => ({
      ...registry.account,
      special: registry.special,
      repositories: [...registry.repositories.values()].map((repository) => {
        const bench = repository.name === BENCH_REPOSITORY;
        const images = bench ? repository.images.sample(BENCH_SAMPLE) : repository.images.page('ANY', 0, repository.images.count).images;
        return {
          name: repository.name,
          scanOnPush: repository.scanOnPush,
          scanType: repository.scanType,
          imageCount: repository.images.count,
          // The bench repository can hold 100,000 images: show a sample and how tags are formed.
          ...(bench ? { tagPattern: 'b-00000, b-00001, … (zero-padded index, unique digest per image)' } : {}),
          images: images.map((image) => imageState(registry, repository, image)),
        };
      }),
    })),
    runtime: scans.counters(),
  };
}
