import { Sha256 } from '@aws-crypto/sha256-js';
import {
  DescribeImageScanFindingsCommand,
  DescribeImagesCommand,
  DescribeRegistryCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  ECRServiceException,
  GetRegistryScanningConfigurationCommand,
  ImageNotFoundException,
  InvalidParameterException,
  LimitExceededException,
  RepositoryNotFoundException,
  ScanNotFoundException,
  ServerException,
  StartImageScanCommand,
  UnsupportedImageTypeException,
  ValidationException,
  paginateDescribeImageScanFindings,
  paginateDescribeImages,
  paginateDescribeRepositories,
  type ImageScanFinding,
} from '@aws-sdk/client-ecr';
import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAwsEcrFrontEnd } from '../src/aws/index.js';
import { startSimulator, type RunningSimulator } from '../src/core/server.js';

const ACCOUNT = SIMULATOR_ACCOUNTS.aws[0];
const OTHER_ACCOUNT = SIMULATOR_ACCOUNTS.aws[1];
const DAY_MS = 24 * 3600 * 1000;

interface ImageState {
  digest: string;
  tags: string[];
  kind: 'normal' | 'unsupported' | 'failing';
  lastScanAt: number | null;
  scanStatus: string | null;
}
interface ImageRef {
  repositoryName: string;
  digest: string;
  tags: string[];
}
interface AwsState {
  now: number;
  accounts: Array<{
    registryId: string;
    region: string;
    special: Record<'multiTag' | 'untagged' | 'unsupported' | 'failing' | 'neverScanned' | 'scannedOnPush' | 'scannedDaysAgo' | 'enhanced', ImageRef>;
    repositories: Array<{ name: string; scanOnPush: boolean; scanType: string; imageCount: number; images: ImageState[] }>;
  }>;
  runtime: {
    scansStarted: Record<string, number>;
    scansStartedTotal: number;
    limitExceeded: Record<string, number>;
    limitExceededTotal: number;
  };
}

let sim: RunningSimulator;

beforeAll(async () => {
  sim = await startSimulator({ host: '127.0.0.1', port: 0, seed: 'test', frontEnds: [createAwsEcrFrontEnd({ SIM_AWS_SCAN_MS: '60000' })] });
});

afterAll(async () => {
  await sim.close();
});

beforeEach(async () => {
  await control('POST', '/_sim/reset');
  await configure({ scanDurationMs: 60_000, findingsPerImage: null, benchImages: 200 });
});

async function control(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: await res.json() };
}

async function configure(options: Record<string, unknown>): Promise<void> {
  const res = await control('POST', '/_sim/config/aws', options);
  expect(res.status).toBe(200);
}

async function advanceClock(ms: number): Promise<void> {
  await control('POST', '/_sim/clock', { advanceMs: ms });
}

async function simState(): Promise<AwsState> {
  return (await control('GET', '/_sim/state/aws')).json as AwsState;
}

async function special(name: keyof AwsState['accounts'][number]['special']): Promise<ImageRef> {
  return (await simState()).accounts[0]!.special[name];
}

/** A real ECR client aimed at the simulator; no retries so each call is exactly one request. */
function ecr(account: { region: string; accessKeyId: string; secretAccessKey: string } = ACCOUNT, region = account.region): ECRClient {
  return new ECRClient({
    region,
    endpoint: sim.url,
    credentials: { accessKeyId: account.accessKeyId, secretAccessKey: account.secretAccessKey },
    maxAttempts: 1,
  });
}

async function allFindings(client: ECRClient, repositoryName: string, imageDigest: string, pageSize: number) {
  const findings: ImageScanFinding[] = [];
  let counts: Record<string, number> | undefined;
  let pages = 0;
  for await (const page of paginateDescribeImageScanFindings({ client, pageSize }, { repositoryName, imageId: { imageDigest } })) {
    pages += 1;
    expect(page.imageScanStatus?.status).toBe('COMPLETE');
    expect(page.imageScanFindings?.findings?.length ?? 0).toBeLessThanOrEqual(pageSize);
    findings.push(...(page.imageScanFindings?.findings ?? []));
    counts = page.imageScanFindings?.findingSeverityCounts as Record<string, number>;
  }
  return { findings, counts: counts ?? {}, pages };
}

describe('AWS ECR front end: scans', () => {
  it('runs a scan IN_PROGRESS until the scan duration has passed on the simulator clock, then COMPLETE', async () => {
    const client = ecr();
    const image = await special('neverScanned');
    const tag = image.tags[0]!;

    await expect(
      client.send(new DescribeImageScanFindingsCommand({ repositoryName: image.repositoryName, imageId: { imageTag: tag } })),
    ).rejects.toBeInstanceOf(ScanNotFoundException);

    const started = await client.send(new StartImageScanCommand({ repositoryName: image.repositoryName, imageId: { imageTag: tag } }));
    expect(started).toMatchObject({
      registryId: ACCOUNT.registryId,
      repositoryName: image.repositoryName,
      imageId: { imageDigest: image.digest, imageTag: tag },
      imageScanStatus: { status: 'IN_PROGRESS' },
    });

    const running = await client.send(new DescribeImageScanFindingsCommand({ repositoryName: image.repositoryName, imageId: { imageTag: tag } }));
    expect(running.imageScanStatus?.status).toBe('IN_PROGRESS');
    expect(running.imageScanFindings).toBeUndefined();

    await advanceClock(59_000);
    const stillRunning = await client.send(
      new DescribeImageScanFindingsCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } }),
    );
    expect(stillRunning.imageScanStatus?.status).toBe('IN_PROGRESS');

    await advanceClock(2_000);
    const done = await client.send(
      new DescribeImageScanFindingsCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } }),
    );
    expect(done.imageScanStatus).toEqual({ status: 'COMPLETE', description: 'The scan was completed successfully.' });
    expect(done.imageScanFindings?.imageScanCompletedAt).toBeInstanceOf(Date);
    expect(done.imageScanFindings?.vulnerabilitySourceUpdatedAt).toBeInstanceOf(Date);
    const { now } = await simState();
    expect(done.imageScanFindings!.imageScanCompletedAt!.getTime()).toBeLessThanOrEqual(now);
    expect(done.imageScanFindings!.imageScanCompletedAt!.getTime()).toBeGreaterThan(now - 5_000);
    expect(done.imageScanFindings?.findingSeverityCounts).toBeDefined();
  });

  it('completes at once with a scan duration of 0', async () => {
    await configure({ scanDurationMs: 0 });
    const client = ecr();
    const image = await special('neverScanned');
    await client.send(new StartImageScanCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } }));
    const done = await client.send(
      new DescribeImageScanFindingsCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } }),
    );
    expect(done.imageScanStatus?.status).toBe('COMPLETE');
  });

  it('pages findings with nextToken, and the pages add up to findingSeverityCounts', async () => {
    await configure({ scanDurationMs: 0, findingsPerImage: 23 });
    const client = ecr();
    const image = await special('neverScanned');
    await client.send(new StartImageScanCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } }));

    const { findings, counts, pages } = await allFindings(client, image.repositoryName, image.digest, 5);
    expect(pages).toBe(5);
    expect(findings).toHaveLength(23);
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(23);
    const bySeverity: Record<string, number> = {};
    for (const f of findings) bySeverity[f.severity!] = (bySeverity[f.severity!] ?? 0) + 1;
    expect(bySeverity).toEqual(counts);
    expect(new Set(findings.map((f) => f.name)).size).toBe(23);
    for (const f of findings) {
      expect(f.name).toMatch(/^CVE-\d{4}-\d+$/);
      expect(['INFORMATIONAL', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL', 'UNDEFINED']).toContain(f.severity);
      expect(f.uri).toContain(f.name);
      const keys = (f.attributes ?? []).map((a) => a.key);
      expect(keys).toEqual(expect.arrayContaining(['package_name', 'package_version']));
      if (f.severity !== 'UNDEFINED') expect(keys).toEqual(expect.arrayContaining(['CVSS2_SCORE', 'CVSS2_VECTOR']));
    }

    // Without maxResults a page holds up to 100 findings.
    const single = await client.send(
      new DescribeImageScanFindingsCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } }),
    );
    expect(single.imageScanFindings?.findings).toHaveLength(23);
    expect(single.nextToken).toBeUndefined();
  });

  it('derives the same findings from the same digest on every run', async () => {
    await configure({ scanDurationMs: 0 });
    const client = ecr();
    const image = await special('neverScanned');
    await client.send(new StartImageScanCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } }));
    const first = await allFindings(client, image.repositoryName, image.digest, 1000);

    // A fresh seed forgets the scan; a new scan of the same digest must find exactly the same.
    await control('POST', '/_sim/reset');
    await client.send(new StartImageScanCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } }));
    const second = await allFindings(client, image.repositoryName, image.digest, 1000);

    expect(second.findings).toEqual(first.findings);
    expect(second.counts).toEqual(first.counts);
    expect(first.findings.length).toBeGreaterThanOrEqual(0);
    expect(first.findings.length).toBeLessThanOrEqual(40);

    // Another digest gets other findings.
    const other = await special('multiTag');
    await client.send(new StartImageScanCommand({ repositoryName: other.repositoryName, imageId: { imageDigest: other.digest } }));
    const third = await allFindings(client, other.repositoryName, other.digest, 1000);
    expect(third.findings.map((f) => f.name)).not.toEqual(first.findings.map((f) => f.name));
  });

  it('answers LimitExceededException to a second scan within 24 h, and allows it again after', async () => {
    const client = ecr();
    const image = await special('neverScanned');
    const start = () => client.send(new StartImageScanCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } }));

    await start();
    const err = await start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimitExceededException);
    expect((err as LimitExceededException).message).toBe('The scan quota per image has been exceeded. Wait and try again.');
    expect((err as LimitExceededException).$metadata.httpStatusCode).toBe(400);

    await advanceClock(DAY_MS - 60_000);
    await expect(start()).rejects.toBeInstanceOf(LimitExceededException);

    await advanceClock(60_001);
    const again = await start();
    expect(again.imageScanStatus?.status).toBe('IN_PROGRESS');

    const { runtime } = await simState();
    const key = `${ACCOUNT.registryId}/${image.repositoryName}@${image.digest}`;
    expect(runtime.scansStarted[key]).toBe(2);
    expect(runtime.limitExceeded[key]).toBe(2);
    expect(runtime.limitExceededTotal).toBe(2);
  });

  it('counts a scan on push: LimitExceeded on start and COMPLETE findings without any start', async () => {
    const client = ecr();
    const image = await special('scannedOnPush');

    const findings = await client.send(
      new DescribeImageScanFindingsCommand({ repositoryName: image.repositoryName, imageId: { imageTag: image.tags[0]! } }),
    );
    expect(findings.imageScanStatus?.status).toBe('COMPLETE');
    expect(findings.imageScanFindings?.findings).toBeDefined();

    await expect(
      client.send(new StartImageScanCommand({ repositoryName: image.repositoryName, imageId: { imageTag: image.tags[0]! } })),
    ).rejects.toBeInstanceOf(LimitExceededException);

    const state = await simState();
    expect(state.runtime.scansStartedTotal).toBe(0);
    const repo = state.accounts[0]!.repositories.find((r) => r.name === image.repositoryName)!;
    expect(repo.scanOnPush).toBe(true);
    for (const img of repo.images) {
      expect(img.lastScanAt).not.toBeNull();
      expect(state.now - img.lastScanAt!).toBeLessThan(DAY_MS);
    }
  });

  it('treats every tag of a digest as one image for the 24 h window', async () => {
    const client = ecr();
    const image = await special('multiTag');
    expect(image.tags.length).toBeGreaterThanOrEqual(2);
    const [firstTag, secondTag] = image.tags as [string, string];

    await client.send(new StartImageScanCommand({ repositoryName: image.repositoryName, imageId: { imageTag: firstTag } }));
    await expect(
      client.send(new StartImageScanCommand({ repositoryName: image.repositoryName, imageId: { imageTag: secondTag } })),
    ).rejects.toBeInstanceOf(LimitExceededException);
    await expect(
      client.send(new StartImageScanCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } })),
    ).rejects.toBeInstanceOf(LimitExceededException);
  });

  it('allows a new scan of an image last scanned days ago, whose old findings are COMPLETE', async () => {
    const client = ecr();
    const image = await special('scannedDaysAgo');
    const before = await client.send(
      new DescribeImageScanFindingsCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } }),
    );
    expect(before.imageScanStatus?.status).toBe('COMPLETE');
    const started = await client.send(new StartImageScanCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } }));
    expect(started.imageScanStatus?.status).toBe('IN_PROGRESS');
  });

  it('ends the scan of the failing image FAILED with a description', async () => {
    const client = ecr();
    const image = await special('failing');
    await client.send(new StartImageScanCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } }));
    await advanceClock(60_000);
    const res = await client.send(
      new DescribeImageScanFindingsCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } }),
    );
    expect(res.imageScanStatus).toEqual({
      status: 'FAILED',
      description: 'UnsupportedImageError: The operating system and/or package manager are not supported.',
    });
    expect(res.imageScanFindings).toBeUndefined();
  });

  it('reports Inspector-shaped enhancedFindings for the ENHANCED repository', async () => {
    await configure({ findingsPerImage: 6 });
    const client = ecr();
    const image = await special('enhanced');
    const res = await client.send(
      new DescribeImageScanFindingsCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } }),
    );
    expect(res.imageScanStatus?.status).toBe('COMPLETE');
    expect(res.imageScanFindings?.findings).toBeUndefined();
    const enhanced = res.imageScanFindings?.enhancedFindings ?? [];
    expect(enhanced).toHaveLength(6);
    for (const f of enhanced) {
      expect(f.findingArn).toMatch(new RegExp(`^arn:aws:inspector2:${ACCOUNT.region}:${ACCOUNT.registryId}:finding/[0-9a-f]{32}$`));
      expect(f.packageVulnerabilityDetails?.vulnerabilityId).toMatch(/^CVE-/);
      expect(f.packageVulnerabilityDetails?.vulnerablePackages?.[0]?.name).toBeTruthy();
      expect(f.title).toContain(f.packageVulnerabilityDetails!.vulnerabilityId!);
      expect(['YES', 'NO', 'PARTIAL']).toContain(f.fixAvailable);
      expect(f.status).toBe('ACTIVE');
      expect(f.firstObservedAt).toBeInstanceOf(Date);
      expect(f.resources?.[0]?.details?.awsEcrContainerImage?.imageHash).toBe(image.digest);
    }
    const counts = res.imageScanFindings?.findingSeverityCounts as Record<string, number>;
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(6);
  });
});

describe('AWS ECR front end: errors', () => {
  it('surfaces each ECR error as the SDK exception class', async () => {
    const client = ecr();
    const state = await simState();
    const { unsupported, multiTag, neverScanned } = state.accounts[0]!.special;

    await expect(
      client.send(new StartImageScanCommand({ repositoryName: 'scanq/nope', imageId: { imageTag: 'latest' } })),
    ).rejects.toBeInstanceOf(RepositoryNotFoundException);
    await expect(
      client.send(new StartImageScanCommand({ repositoryName: multiTag.repositoryName, imageId: { imageTag: 'no-such-tag' } })),
    ).rejects.toBeInstanceOf(ImageNotFoundException);
    // Tag and digest both given but naming different images.
    await expect(
      client.send(
        new StartImageScanCommand({
          repositoryName: multiTag.repositoryName,
          imageId: { imageTag: multiTag.tags[0]!, imageDigest: neverScanned.digest },
        }),
      ),
    ).rejects.toBeInstanceOf(ImageNotFoundException);
    await expect(
      client.send(new StartImageScanCommand({ repositoryName: unsupported.repositoryName, imageId: { imageDigest: unsupported.digest } })),
    ).rejects.toBeInstanceOf(UnsupportedImageTypeException);
    const badName = await client
      .send(new StartImageScanCommand({ repositoryName: 'Scanq/API', imageId: { imageTag: 'latest' } }))
      .catch((e: unknown) => e);
    expect(badName).toBeInstanceOf(InvalidParameterException);
    expect((badName as Error).message).toContain("Invalid parameter at 'repositoryName' failed to satisfy constraint");
    await expect(
      client.send(new StartImageScanCommand({ repositoryName: 'x', imageId: { imageTag: 'latest' } })),
    ).rejects.toBeInstanceOf(InvalidParameterException);
    await expect(
      client.send(new StartImageScanCommand({ repositoryName: multiTag.repositoryName, imageId: { imageDigest: 'not-a-digest' } })),
    ).rejects.toBeInstanceOf(InvalidParameterException);
    await expect(
      client.send(new StartImageScanCommand({ repositoryName: multiTag.repositoryName, registryId: '123', imageId: { imageTag: 'latest' } })),
    ).rejects.toBeInstanceOf(InvalidParameterException);
    await expect(
      client.send(new StartImageScanCommand({ repositoryName: multiTag.repositoryName, imageId: {} })),
    ).rejects.toBeInstanceOf(ValidationException);
    await expect(
      client.send(
        new DescribeImageScanFindingsCommand({ repositoryName: multiTag.repositoryName, imageId: { imageTag: 'latest' }, maxResults: 1001 }),
      ),
    ).rejects.toBeInstanceOf(InvalidParameterException);
    await expect(
      client.send(
        new DescribeImageScanFindingsCommand({ repositoryName: neverScanned.repositoryName, imageId: { imageDigest: neverScanned.digest } }),
      ),
    ).rejects.toBeInstanceOf(ScanNotFoundException);
  });

  it('keeps each account to its own registry and home region', async () => {
    const image = await special('neverScanned');
    // The other account's registry is not visible to this caller.
    await expect(
      ecr().send(new StartImageScanCommand({ repositoryName: image.repositoryName, registryId: OTHER_ACCOUNT.registryId, imageId: { imageTag: 'latest' } })),
    ).rejects.toBeInstanceOf(RepositoryNotFoundException);
    // Another regional endpoint holds no repositories.
    await expect(
      ecr(ACCOUNT, OTHER_ACCOUNT.region).send(new DescribeImagesCommand({ repositoryName: image.repositoryName })),
    ).rejects.toBeInstanceOf(RepositoryNotFoundException);
    // The second account sees its own copy of the inventory.
    const theirs = await ecr(OTHER_ACCOUNT).send(new DescribeRepositoriesCommand({ repositoryNames: [image.repositoryName] }));
    expect(theirs.repositories?.[0]?.registryId).toBe(OTHER_ACCOUNT.registryId);
  });

  it('renders injected faults: server_error as ServerException (500), throttle as ThrottlingException', async () => {
    const client = ecr();
    const image = await special('neverScanned');
    await control('POST', '/_sim/faults', { cloud: 'aws', api: 'StartImageScan', kind: 'server_error', count: 1 });
    const err = await client
      .send(new StartImageScanCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServerException);
    expect((err as ServerException).$metadata.httpStatusCode).toBe(500);

    await control('POST', '/_sim/faults', { cloud: 'aws', api: 'DescribeImages', kind: 'throttle', count: 1 });
    const throttled = await client.send(new DescribeImagesCommand({ repositoryName: image.repositoryName })).catch((e: unknown) => e);
    expect(throttled).toBeInstanceOf(ECRServiceException);
    expect((throttled as ECRServiceException).name).toBe('ThrottlingException');

    const calls = (await control('GET', '/_sim/calls')).json as { outcomes: Record<string, number> };
    expect(calls.outcomes['aws:StartImageScan:fault:server_error']).toBe(1);
    expect(calls.outcomes['aws:DescribeImages:fault:throttle']).toBe(1);

    // The fault was used up: the scan can now start (the faulted call never reached ECR).
    const started = await client.send(new StartImageScanCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } }));
    expect(started.imageScanStatus?.status).toBe('IN_PROGRESS');
  });

  it('counts calls per API and their outcomes', async () => {
    const client = ecr();
    const image = await special('neverScanned');
    await client.send(new StartImageScanCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } }));
    await client.send(new StartImageScanCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } })).catch(() => undefined);
    await client.send(new DescribeImageScanFindingsCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } }));
    await client.send(new DescribeImageScanFindingsCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } }));
    await client.send(new DescribeImageScanFindingsCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } }));

    const calls = (await control('GET', '/_sim/calls')).json as { totals: Record<string, number>; outcomes: Record<string, number> };
    expect(calls.totals['aws:StartImageScan']).toBe(2);
    expect(calls.totals['aws:DescribeImageScanFindings']).toBe(3);
    expect(calls.outcomes['aws:StartImageScan:ok']).toBe(1);
    expect(calls.outcomes['aws:StartImageScan:LimitExceededException']).toBe(1);
    expect(calls.outcomes['aws:DescribeImageScanFindings:ok']).toBe(3);
  });
});

describe('AWS ECR front end: signatures', () => {
  const body = JSON.stringify({ repositoryName: 'scanq/api', imageId: { imageTag: 'latest' } });
  const headers = {
    'content-type': 'application/x-amz-json-1.1',
    'x-amz-target': 'AmazonEC2ContainerRegistry_V20150921.StartImageScan',
  };

  async function signed(secretAccessKey: string, accessKeyId = ACCOUNT.accessKeyId) {
    const url = new URL(sim.url);
    const signer = new SignatureV4({ service: 'ecr', region: ACCOUNT.region, sha256: Sha256, credentials: { accessKeyId, secretAccessKey } });
    return signer.sign({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: '/',
      query: {},
      headers: { ...headers, host: url.host },
      body,
    });
  }

  it('rejects an unsigned request with MissingAuthenticationTokenException', async () => {
    const res = await fetch(`${sim.url}/`, { method: 'POST', headers, body });
    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
    expect(res.headers.get('x-amzn-requestid')).toBeTruthy();
    expect(await res.json()).toEqual({ __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' });
  });

  it('accepts a correctly signed hand-made request, and rejects it once the body is altered', async () => {
    const request = await signed(ACCOUNT.secretAccessKey);
    const ok = await fetch(`${sim.url}/`, { method: 'POST', headers: request.headers, body });
    expect(ok.status).toBe(200);

    const tampered = await fetch(`${sim.url}/`, {
      method: 'POST',
      headers: request.headers,
      body: body.replace('latest', '1.4.1 '),
    });
    expect(tampered.status).toBe(400);
    expect(((await tampered.json()) as { __type: string }).__type).toBe('InvalidSignatureException');
  });

  it('rejects a wrong secret (InvalidSignatureException) and an unknown key (UnrecognizedClientException)', async () => {
    const wrongSecret = await ecr({ ...ACCOUNT, secretAccessKey: 'not-the-secret' })
      .send(new DescribeRegistryCommand({}))
      .catch((e: unknown) => e);
    expect(wrongSecret).toBeInstanceOf(ECRServiceException);
    expect((wrongSecret as ECRServiceException).name).toBe('InvalidSignatureException');
    expect((wrongSecret as ECRServiceException).$metadata.httpStatusCode).toBe(400);

    const unknownKey = await ecr({ ...ACCOUNT, accessKeyId: 'AKIAUNKNOWNKEY000000' })
      .send(new DescribeRegistryCommand({}))
      .catch((e: unknown) => e);
    expect((unknownKey as ECRServiceException).name).toBe('UnrecognizedClientException');
    expect((unknownKey as ECRServiceException).message).toBe('The security token included in the request is invalid.');
  });
});

describe('AWS ECR front end: inventory', () => {
  it('resolves tags to digests with DescribeImages and filters by tag status', async () => {
    const client = ecr();
    const state = await simState();
    const { multiTag, untagged } = state.accounts[0]!.special;

    const byTag = await client.send(
      new DescribeImagesCommand({ repositoryName: multiTag.repositoryName, imageIds: [{ imageTag: multiTag.tags[1]! }, { imageDigest: multiTag.digest }] }),
    );
    expect(byTag.imageDetails).toHaveLength(1);
    expect(byTag.imageDetails?.[0]).toMatchObject({ imageDigest: multiTag.digest, imageTags: multiTag.tags, registryId: ACCOUNT.registryId });
    expect(byTag.imageDetails?.[0]?.imagePushedAt).toBeInstanceOf(Date);

    await expect(
      client.send(new DescribeImagesCommand({ repositoryName: multiTag.repositoryName, imageIds: [{ imageTag: 'missing' }] })),
    ).rejects.toBeInstanceOf(ImageNotFoundException);

    const untaggedOnly = await client.send(new DescribeImagesCommand({ repositoryName: untagged.repositoryName, filter: { tagStatus: 'UNTAGGED' } }));
    const digests = untaggedOnly.imageDetails?.map((d) => d.imageDigest);
    expect(digests).toContain(untagged.digest);
    for (const d of untaggedOnly.imageDetails ?? []) expect(d.imageTags ?? []).toHaveLength(0);

    const nginx = state.accounts[0]!.special.scannedOnPush;
    const scanned = await client.send(new DescribeImagesCommand({ repositoryName: nginx.repositoryName, imageIds: [{ imageDigest: nginx.digest }] }));
    expect(scanned.imageDetails?.[0]?.imageScanStatus?.status).toBe('COMPLETE');
    expect(scanned.imageDetails?.[0]?.imageScanFindingsSummary?.imageScanCompletedAt).toBeInstanceOf(Date);
  });

  it('pages the bench repository with maxResults and nextToken', async () => {
    await configure({ benchImages: 120 });
    const client = ecr();
    const tags: string[] = [];
    const digests = new Set<string>();
    for await (const page of paginateDescribeImages({ client, pageSize: 50 }, { repositoryName: 'bench/images' })) {
      expect(page.imageDetails!.length).toBeLessThanOrEqual(50);
      for (const d of page.imageDetails ?? []) {
        tags.push(...(d.imageTags ?? []));
        digests.add(d.imageDigest!);
      }
    }
    expect(tags).toHaveLength(120);
    expect(tags[0]).toBe('b-00000');
    expect(tags[119]).toBe('b-00119');
    expect(digests.size).toBe(120);
  });

  it('serves a 100,000-image bench repository lazily', async () => {
    await configure({ benchImages: 100_000, scanDurationMs: 0 });
    const client = ecr();
    const last = await client.send(new DescribeImagesCommand({ repositoryName: 'bench/images', imageIds: [{ imageTag: 'b-99999' }] }));
    const digest = last.imageDetails![0]!.imageDigest!;
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const byDigest = await client.send(new DescribeImagesCommand({ repositoryName: 'bench/images', imageIds: [{ imageDigest: digest }] }));
    expect(byDigest.imageDetails?.[0]?.imageTags).toEqual(['b-99999']);
    await expect(
      client.send(new DescribeImagesCommand({ repositoryName: 'bench/images', imageIds: [{ imageTag: 'b-100000' }] })),
    ).rejects.toBeInstanceOf(ImageNotFoundException);

    await client.send(new StartImageScanCommand({ repositoryName: 'bench/images', imageId: { imageTag: 'b-54321' } }));
    const res = await client.send(new DescribeImageScanFindingsCommand({ repositoryName: 'bench/images', imageId: { imageTag: 'b-54321' } }));
    expect(res.imageScanStatus?.status).toBe('COMPLETE');
    const bench = (await simState()).accounts[0]!.repositories.find((r) => r.name === 'bench/images')!;
    expect(bench.imageCount).toBe(100_000);
  });

  it('pages DescribeRepositories and reports scan-on-push and the registry configuration', async () => {
    const client = ecr();
    const names: string[] = [];
    for await (const page of paginateDescribeRepositories({ client, pageSize: 2 }, {})) {
      expect(page.repositories!.length).toBeLessThanOrEqual(2);
      names.push(...(page.repositories ?? []).map((r) => r.repositoryName!));
    }
    const seeded = (await simState()).accounts[0]!.repositories.map((r) => r.name);
    expect(names).toEqual(seeded);
    expect(names).toEqual(expect.arrayContaining(['scanq/api', 'library/nginx', 'bench/images']));

    const nginx = await client.send(new DescribeRepositoriesCommand({ repositoryNames: ['library/nginx'] }));
    expect(nginx.repositories?.[0]).toMatchObject({
      repositoryName: 'library/nginx',
      registryId: ACCOUNT.registryId,
      repositoryUri: `${ACCOUNT.registryId}.dkr.ecr.${ACCOUNT.region}.amazonaws.com/library/nginx`,
      imageScanningConfiguration: { scanOnPush: true },
    });
    expect(nginx.repositories?.[0]?.createdAt).toBeInstanceOf(Date);
    await expect(client.send(new DescribeRepositoriesCommand({ repositoryNames: ['scanq/nope'] }))).rejects.toBeInstanceOf(
      RepositoryNotFoundException,
    );

    const registry = await client.send(new DescribeRegistryCommand({}));
    expect(registry.registryId).toBe(ACCOUNT.registryId);
    const scanning = await client.send(new GetRegistryScanningConfigurationCommand({}));
    expect(scanning.scanningConfiguration?.scanType).toBe('BASIC');
    expect(scanning.scanningConfiguration?.rules?.[0]?.repositoryFilters?.map((f) => f.filter)).toContain('library/nginx');
  });

  it('validates runtime options', async () => {
    expect((await control('POST', '/_sim/config/aws', { scanDurationMs: -1 })).status).toBe(400);
    expect((await control('POST', '/_sim/config/aws', { findingsPerImage: 'many' })).status).toBe(400);
    expect((await control('POST', '/_sim/config/aws', { scanMs: 5 })).status).toBe(400);
    expect((await control('POST', '/_sim/config/aws', { findingsPerImage: null })).status).toBe(200);
    expect(() => createAwsEcrFrontEnd({ SIM_AWS_SCAN_MS: 'soon' })).toThrow(/SIM_AWS_SCAN_MS/);
  });
});
