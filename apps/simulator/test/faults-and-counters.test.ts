import { DescribeImageScanFindingsCommand, ECRClient, StartImageScanCommand } from '@aws-sdk/client-ecr';
import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CallCounter, type CallCounterSnapshot } from '../src/core/call-counter.js';
import { type FaultRule } from '../src/core/faults.js';
import { startSimulator, type RunningSimulator } from '../src/core/server.js';
import { SlidingWindowLog } from '../src/core/sliding-window.js';
import { createFrontEnds } from '../src/frontends.js';

const AWS = SIMULATOR_ACCOUNTS.aws[0];
const ECR_TARGET = 'AmazonEC2ContainerRegistry_V20150921.';

describe('sliding 1000 ms windows', () => {
  it('counts calls less than 1000 ms apart as one window, wherever the window starts', () => {
    const log = new SlidingWindowLog();
    for (const t of [0, 500, 999, 1000, 1500]) log.record(t);
    // 0, 500, 999 share a window; 1000 is a full second after 0, so 0 has left it.
    expect(log.max).toBe(3);
    expect(log.timestamps()).toEqual([0, 500, 999, 1000, 1500]);
    expect(log.timestamps(999)).toEqual([999, 1000, 1500]);
  });

  it('sees a burst across a second boundary that per-second buckets split in two', () => {
    const counter = new CallCounter();
    const base = 1_700_000_000_000;
    for (let i = 0; i < 10; i++) counter.record('tencent', 'X', base + 900 + i * 10);
    for (let i = 0; i < 10; i++) counter.record('tencent', 'X', base + 1000 + i * 10);
    const snap = counter.snapshot();
    expect(snap.maxPerSecond['tencent:X']).toBe(10);
    expect(snap.maxPerSlidingSecond['tencent:X']).toBe(20);
    expect(snap.totals['tencent:X']).toBe(20);
  });

  it('treats a time earlier than the latest (a clock stepping back) as arriving with the latest', () => {
    const log = new SlidingWindowLog();
    log.record(5000);
    log.record(3000);
    log.record(5999);
    expect(log.timestamps()).toEqual([5000, 5000, 5999]);
    expect(log.max).toBe(3);
  });

  it('grows its ring as calls come, keeps the latest up to its cap, and keeps the maximum it saw', () => {
    const log = new SlidingWindowLog(1000, 3000);
    // 2 calls per ms for 1.5 s: 2000 in any 1000 ms.
    for (let i = 0; i < 3000; i++) log.record(i / 2);
    expect(log.max).toBe(2000);
    // Then slowly: the ring wraps, the old burst is dropped, its maximum stays.
    for (let i = 0; i < 4000; i++) log.record(10_000 + i * 100);
    expect(log.total).toBe(7000);
    const kept = log.timestamps();
    expect(kept).toHaveLength(3000);
    expect(kept[0]).toBe(10_000 + 1000 * 100);
    expect(kept.at(-1)).toBe(10_000 + 3999 * 100);
    expect(log.max).toBe(2000);
  });
});

describe('simulator fault rules and counters (HTTP)', () => {
  let sim: RunningSimulator;
  beforeAll(async () => {
    sim = await startSimulator({ host: '127.0.0.1', port: 0, seed: 'faults-test', frontEnds: createFrontEnds({ SIM_AWS_SCAN_MS: '60000' }) });
  });
  afterAll(() => sim?.close());
  beforeEach(async () => {
    await fetch(`${sim.url}/_sim/reset`, { method: 'POST' });
  });

  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${sim.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const calls = async () => (await (await fetch(`${sim.url}/_sim/calls`)).json()) as CallCounterSnapshot;
  const rules = async () => ((await (await fetch(`${sim.url}/_sim/faults`)).json()) as { faults: FaultRule[] }).faults;

  /**
   * One unsigned ECR call: a fault is decided before the signature is checked, so a faulted
   * call answers 500 (server_error) and any other 4xx (the signature is refused, nothing runs).
   */
  const ecrCall = async (api: string): Promise<number> => {
    const res = await fetch(sim.url, { method: 'POST', headers: { 'x-amz-target': `${ECR_TARGET}${api}`, 'content-type': 'application/x-amz-json-1.1' }, body: '{}' });
    await res.arrayBuffer();
    return res.status;
  };
  /** Which of `n` calls in a row got the server_error fault. */
  const faultPattern = async (api: string, n: number): Promise<string> => {
    let pattern = '';
    for (let i = 0; i < n; i++) pattern += (await ecrCall(api)) === 500 ? 'x' : '.';
    return pattern;
  };

  const ecr = () => new ECRClient({ region: AWS.region, endpoint: sim.url, credentials: { accessKeyId: AWS.accessKeyId, secretAccessKey: AWS.secretAccessKey }, maxAttempts: 1 });
  const neverScanned = async () => {
    const state = (await (await fetch(`${sim.url}/_sim/state/aws`)).json()) as { accounts: { special: { neverScanned: { repositoryName: string; digest: string } } }[] };
    return state.accounts[0]!.special.neverScanned;
  };

  it('injects a fault into about `rate` of the matching calls, the same calls for the same seed, and counts them', async () => {
    const added = await post('/_sim/faults', { cloud: 'aws', api: 'DescribeImages', kind: 'server_error', rate: 0.25, seed: 'seed-a' });
    expect(added.status).toBe(200);
    expect(added.json.added).toEqual([{ id: 1, cloud: 'aws', api: 'DescribeImages', kind: 'server_error', rate: 0.25, seed: 'seed-a', injected: 0 }]);
    const first = await faultPattern('DescribeImages', 400);
    const hits = first.split('x').length - 1;
    // Binomial(400, 0.25): mean 100, sd ≈ 8.7.
    expect(hits).toBeGreaterThan(60);
    expect(hits).toBeLessThan(140);
    // Other APIs are untouched.
    expect(await faultPattern('DescribeRepositories', 20)).toBe('.'.repeat(20));
    const snap = await calls();
    expect(snap.faults).toEqual({ 'aws:DescribeImages:server_error': hits });
    expect(snap.outcomes['aws:DescribeImages:fault:server_error']).toBe(hits);
    expect((await rules())[0]).toMatchObject({ id: 1, rate: 0.25, injected: hits });

    // The same rule after a reset: the same calls fail.
    await fetch(`${sim.url}/_sim/reset`, { method: 'POST' });
    await post('/_sim/faults', { cloud: 'aws', api: 'DescribeImages', kind: 'server_error', rate: 0.25, seed: 'seed-a' });
    expect(await faultPattern('DescribeImages', 400)).toBe(first);
    // Another seed: other calls.
    await fetch(`${sim.url}/_sim/reset`, { method: 'POST' });
    await post('/_sim/faults', { cloud: 'aws', api: 'DescribeImages', kind: 'server_error', rate: 0.25, seed: 'seed-b' });
    expect(await faultPattern('DescribeImages', 400)).not.toBe(first);
  });

  it('seeds a rule without a seed from the simulator seed and its number, so a run is reproducible', async () => {
    const added = await post('/_sim/faults', [
      { cloud: '*', api: '*', kind: 'throttle', rate: 0.05 },
      { cloud: 'aws', api: '*', kind: 'server_error', rate: 0.3 },
    ]);
    expect((added.json.added as FaultRule[]).map((r) => ('seed' in r ? r.seed : null))).toEqual(['faults-test/fault-rule-1', 'faults-test/fault-rule-2']);
    const first = await faultPattern('DescribeImages', 200);
    await fetch(`${sim.url}/_sim/reset`, { method: 'POST' });
    await post('/_sim/faults', [
      { cloud: '*', api: '*', kind: 'throttle', rate: 0.05 },
      { cloud: 'aws', api: '*', kind: 'server_error', rate: 0.3 },
    ]);
    expect(await faultPattern('DescribeImages', 200)).toBe(first);
    expect(first).toContain('x');
  });

  it('applies a rule for every cloud and API (`*`), and takes count rules before rate rules', async () => {
    await post('/_sim/faults', { cloud: '*', api: '*', kind: 'server_error', rate: 1 });
    await post('/_sim/faults', { cloud: 'aws', api: 'DescribeRegistry', kind: 'throttle', count: 2 });
    for (let i = 0; i < 3; i++) await ecrCall('DescribeRegistry');
    await ecrCall('DescribeImages');
    // Tencent answers every error with HTTP 200 and a Response.Error.
    const tencent = await fetch(sim.url, { method: 'POST', headers: { 'x-tc-action': 'DescribeAssetImageRegistryList', 'content-type': 'application/json' }, body: '{}' });
    expect(((await tencent.json()) as { Response: { Error: { Code: string } } }).Response.Error.Code).toBe('InternalError');
    const huawei = await fetch(`${sim.url}/v5/p/image/swr-repository`);
    expect(huawei.status).toBe(500);
    await huawei.arrayBuffer();
    expect((await calls()).faults).toEqual({
      'aws:DescribeRegistry:throttle': 2,
      'aws:DescribeRegistry:server_error': 1,
      'aws:DescribeImages:server_error': 1,
      'tencent:DescribeAssetImageRegistryList:server_error': 1,
      'huawei:ListSwrImageRepository:server_error': 1,
    });
    // The count rule is used up and gone; the rate rule stays until DELETE or reset.
    expect((await rules()).map((r) => r.kind)).toEqual(['server_error']);
    const cleared = await fetch(`${sim.url}/_sim/faults`, { method: 'DELETE' });
    expect(await cleared.json()).toEqual({ faults: [] });
    expect(await ecrCall('DescribeImages')).not.toBe(500);
  });

  it('refuses a bad rule with a 400 naming each field and the rule it broke, and adds none of a batch', async () => {
    const bad = await post('/_sim/faults', { cloud: 'gcp', api: 'X', kind: 'server_error', rate: 2 });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({
      error: 'invalid_request',
      issues: [
        { field: 'cloud', rule: 'one_of', message: 'must be one of *, alibaba, aws, tencent, huawei' },
        { field: 'rate', rule: 'maximum' },
      ],
    });
    expect(bad.json.message).toContain('rate: must be at most 1');

    const cases: [unknown, { field: string; rule: string }[]][] = [
      [{ cloud: 'aws', api: 'X', kind: 'explode' }, [{ field: 'kind', rule: 'one_of' }]],
      [{ cloud: 'aws', api: 'X', kind: 'timeout', count: 1, rate: 0.5 }, [{ field: 'rate', rule: 'exclusive' }]],
      [{ cloud: 'aws', api: 'X', kind: 'timeout', rate: 0 }, [{ field: 'rate', rule: 'minimum' }]],
      [{ cloud: 'aws', api: 'X', kind: 'timeout', rate: '5%' }, [{ field: 'rate', rule: 'type' }]],
      [{ cloud: 'aws', api: 'X', kind: 'timeout', count: 0 }, [{ field: 'count', rule: 'minimum' }]],
      [{ cloud: 'aws', api: 'X', kind: 'timeout', count: 1.5 }, [{ field: 'count', rule: 'type' }]],
      [{ cloud: 'aws', api: 'X', kind: 'timeout', count: 1, seed: 's' }, [{ field: 'seed', rule: 'constraint' }]],
      [{ cloud: 'aws', api: '', kind: 'timeout' }, [{ field: 'api', rule: 'type' }]],
      [{ cloud: 'aws', api: 'X', kind: 'timeout', probability: 0.1 }, [{ field: 'probability', rule: 'unknown_field' }]],
      [{}, [{ field: 'cloud', rule: 'required' }, { field: 'api', rule: 'required' }, { field: 'kind', rule: 'required' }]],
      [[], [{ field: 'body', rule: 'min_items' }]],
      ['{not json', [{ field: 'body', rule: 'json' }]],
      [
        [{ cloud: 'aws', api: 'X', kind: 'timeout', rate: 0.1 }, { cloud: 'aws', kind: 5 }],
        [{ field: '[1].api', rule: 'required' }, { field: '[1].kind', rule: 'one_of' }],
      ],
    ];
    for (const [body, issues] of cases) {
      const res = await post('/_sim/faults', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((res.json.issues as { field: string; rule: string }[]).map(({ field, rule }) => ({ field, rule })), JSON.stringify(body)).toEqual(issues);
    }
    expect(await rules()).toEqual([]);
  });

  it('times out (no answer until the client gives up) and disconnects without running the call', async () => {
    const image = await neverScanned();
    await post('/_sim/faults', [
      { cloud: 'aws', api: 'StartImageScan', kind: 'timeout', count: 1 },
      { cloud: 'aws', api: 'StartImageScan', kind: 'disconnect', count: 1 },
    ]);
    const start = () => ecr().send(new StartImageScanCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } }), { abortSignal: AbortSignal.timeout(500) });
    await expect(start()).rejects.toMatchObject({ name: expect.stringMatching(/Abort|Timeout/) });
    await expect(start()).rejects.toThrow();
    const snap = await calls();
    expect(snap.faults).toEqual({ 'aws:StartImageScan:timeout': 1, 'aws:StartImageScan:disconnect': 1 });
    // Neither reached ECR: no scan exists, so the next start is the first.
    expect(snap.tasks).toEqual({});
    const started = await start();
    expect(started.imageScanStatus?.status).toBe('IN_PROGRESS');
  });

  it('drop_response and hang_response run the call (the scan starts), then lose its answer', async () => {
    const image = await neverScanned();
    const key = `${AWS.name}/${image.repositoryName}@${image.digest}`;
    await post('/_sim/faults', { cloud: 'aws', api: 'StartImageScan', kind: 'drop_response', count: 1 });
    const start = () => ecr().send(new StartImageScanCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } }), { abortSignal: AbortSignal.timeout(500) });
    await expect(start()).rejects.toThrow();
    expect((await calls()).tasks).toEqual({ aws: { created: 1, perImage: { [key]: 1 } } });
    const findings = await ecr().send(new DescribeImageScanFindingsCommand({ repositoryName: image.repositoryName, imageId: { imageDigest: image.digest } }));
    expect(findings.imageScanStatus?.status).toBe('IN_PROGRESS');

    // Another image, answer held instead of dropped.
    const state = (await (await fetch(`${sim.url}/_sim/state/aws`)).json()) as { accounts: { repositories: { name: string; images: { digest: string; lastScanAt: number | null; kind: string }[] }[] }[] };
    const repo = state.accounts[0]!.repositories.find((r) => r.images.some((i) => i.lastScanAt === null && i.kind === 'normal'))!;
    const other = repo.images.find((i) => i.lastScanAt === null && i.kind === 'normal')!;
    await post('/_sim/faults', { cloud: 'aws', api: 'StartImageScan', kind: 'hang_response', count: 1 });
    await expect(
      ecr().send(new StartImageScanCommand({ repositoryName: repo.name, imageId: { imageDigest: other.digest } }), { abortSignal: AbortSignal.timeout(500) }),
    ).rejects.toMatchObject({ name: expect.stringMatching(/Abort|Timeout/) });
    const snap = await calls();
    expect(snap.tasks.aws?.created).toBe(2);
    expect(snap.tasks.aws?.perImage[`${AWS.name}/${repo.name}@${other.digest}`]).toBe(1);
    expect(snap.faults).toEqual({ 'aws:StartImageScan:drop_response': 1, 'aws:StartImageScan:hang_response': 1 });
    expect(snap.outcomes['aws:StartImageScan:fault:drop_response']).toBe(1);
  });

  it('keeps each call\'s arrival time and the most calls in any sliding second', async () => {
    for (let i = 0; i < 5; i++) await ecrCall('DescribeRegistry');
    const snap = await calls();
    expect(snap.totals['aws:DescribeRegistry']).toBe(5);
    expect(snap.maxPerSlidingSecond['aws:DescribeRegistry']).toBeGreaterThanOrEqual(Math.max(...Object.values(snap.perSecond['aws:DescribeRegistry']!)));
    expect(snap.maxPerSlidingSecond['aws:DescribeRegistry']).toBeLessThanOrEqual(5);
    const res = (await (await fetch(`${sim.url}/_sim/calls/timestamps?key=aws:DescribeRegistry`)).json()) as { timestamps: number[] };
    expect(res.timestamps).toHaveLength(5);
    expect([...res.timestamps].sort((a, b) => a - b)).toEqual(res.timestamps);
    // TCSS counts its rate limit per account and API: the per-account figure is in its state.
    const tencent = SIMULATOR_ACCOUNTS.tencent[0];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(sim.url, {
        method: 'POST',
        headers: {
          'x-tc-action': 'DescribeAssetImageRegistryList',
          'x-tc-version': '2020-11-01',
          'content-type': 'application/json',
          // Identified by its SecretId (so counted), then refused for its signature.
          authorization: `TC3-HMAC-SHA256 Credential=${tencent.secretId}/2026-01-01/tcss/tc3_request, SignedHeaders=content-type;host, Signature=${'0'.repeat(64)}`,
        },
        body: '{}',
      });
      await res.arrayBuffer();
    }
    const state = (await (await fetch(`${sim.url}/_sim/state/tencent`)).json()) as { rateLimit: { maxPerSlidingSecond: Record<string, number> } };
    const perAccount = state.rateLimit.maxPerSlidingSecond[`${tencent.name}:DescribeAssetImageRegistryList`];
    expect(perAccount).toBeGreaterThanOrEqual(1);
    expect(perAccount).toBeLessThanOrEqual(3);

    const missing = await fetch(`${sim.url}/_sim/calls/timestamps`);
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { issues: { field: string }[] }).issues[0]!.field).toBe('query.key');
  });
});
