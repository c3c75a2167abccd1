import { randomUUID } from 'node:crypto';
import { PROVIDERS, type Provider, SIMULATOR_ACCOUNTS } from '@scanq/core';
import { AccountInventory } from '../../../apps/simulator/src/huawei/inventory.js';
import { AUTH } from '../../support/env.js';
import { SIM_SEED, type Stack } from './stack.js';

/**
 * Scan requests, each on an image of its own that scans cleanly: any failure, repeat or
 * refusal seen afterwards is the fault's doing, not the image's.
 */
export class ScanTargets {
  private readonly used: Record<Provider, number> = { aws: 0, alibaba: 0, tencent: 0, huawei: 0 };
  private constructor(private readonly pools: Record<Provider, Record<string, unknown>[]>) {}

  static async load(stack: Stack): Promise<ScanTargets> {
    const state = async <T>(cloud: string) => (await (await fetch(`${stack.simUrl}/_sim/state/${cloud}`)).json()) as T;
    const [alibaba, tencent] = await Promise.all([
      state<{ accounts: { name: string; images: { digest: string; behaviour: string; supportedRegion: boolean }[] }[] }>('alibaba'),
      state<{ accounts: { name: string; images: { Id: number; special: string | null }[] }[] }>('tencent'),
    ]);
    const ali = alibaba.accounts.find((a) => a.name === SIMULATOR_ACCOUNTS.alibaba[0].name)!;
    const tc = tencent.accounts.find((a) => a.name === SIMULATOR_ACCOUNTS.tencent[0].name)!;
    // HSS lists no inventory in its state: derive it as the simulator does (same seed, same count).
    const hwCount = Number(stack.env.SIM_HUAWEI_IMAGES ?? 500);
    const hw = new AccountInventory({ ...SIMULATOR_ACCOUNTS.huawei[0] }, 0, SIM_SEED, hwCount).all().filter((i) => i.imageType === 'private_image' && !i.special);
    const awsCount = Number(stack.env.SIM_AWS_BENCH_IMAGES ?? 200);
    return new ScanTargets({
      aws: Array.from({ length: awsCount }, (_, i) => ({ repositoryName: 'bench/images', imageId: { imageTag: `b-${String(i).padStart(5, '0')}` } })),
      alibaba: ali.images.filter((i) => i.behaviour === 'normal' && i.supportedRegion).map((i) => ({ digests: [i.digest] })),
      tencent: tc.images.filter((i) => i.special === null).map((i) => ({ repositoryIds: [i.Id] })),
      huawei: hw.map((i) => ({ image_type: 'private_image', image_info_list: [{ namespace: i.namespace, image_name: i.imageName, image_version: i.imageVersion }] })),
    });
  }

  /** The next unused target of `provider`, as a POST /v1/scans body. */
  next(provider: Provider): Record<string, unknown> {
    const target = this.pools[provider][this.used[provider]++];
    if (!target) throw new Error(`no unused ${provider} image left (${this.pools[provider].length})`);
    return { provider, account: SIMULATOR_ACCOUNTS[provider][0].name, ...target };
  }
}

export interface SubmitResult {
  provider: Provider;
  status: number;
  id?: string;
  /** Retry-After header of a refusal, if any. */
  retryAfter?: string | null;
  /** The `error` field of a refusal's body. */
  error?: string;
  at: number;
}

/** Every submission and its answer: what the API accepted (202 with an id) is what must not be lost. */
export class SubmitLog {
  readonly results: SubmitResult[] = [];

  get accepted(): { id: string; provider: Provider }[] {
    return this.results.filter((r) => r.status === 202 && r.id).map((r) => ({ id: r.id!, provider: r.provider }));
  }

  /** Answers by status (`timeout` for no answer within the client's limit). */
  statuses(since = 0, until = Infinity): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.results) if (r.at >= since && r.at <= until) out[String(r.status || 'timeout')] = (out[String(r.status || 'timeout')] ?? 0) + 1;
    return out;
  }
}

/** One POST /v1/scans with an idempotency key of its own; never throws (a refused or unanswered request is a result). */
export async function submitScan(stack: Stack, targets: ScanTargets, provider: Provider, log: SubmitLog, timeoutMs = 10_000): Promise<SubmitResult> {
  const at = Date.now();
  let result: SubmitResult;
  try {
    const res = await fetch(`${stack.apiUrl}/v1/scans`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json', 'idempotency-key': `faults-${randomUUID()}` },
      body: JSON.stringify(targets.next(provider)),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res.json().catch(() => ({}))) as { id?: string; error?: string };
    result = { provider, status: res.status, at, retryAfter: res.headers.get('retry-after'), ...(res.status === 202 ? { id: body.id } : { error: body.error }) };
  } catch (err) {
    result = { provider, status: 0, at, error: (err as Error).name };
  }
  log.results.push(result);
  return result;
}

/** Submits `perCloud` scans on each listed cloud at once (a few requests at a time). */
export async function submitBurst(stack: Stack, targets: ScanTargets, log: SubmitLog, perCloud: Partial<Record<Provider, number>>): Promise<void> {
  // Interleaved, so every cloud has work in flight from the start.
  const order = interleave(PROVIDERS.map((p) => Array.from({ length: perCloud[p] ?? 0 }, () => p)));
  let next = 0;
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      while (next < order.length) await submitScan(stack, targets, order[next++]!, log);
    }),
  );
}

function interleave<T>(lists: T[][]): T[] {
  const out: T[] = [];
  for (let i = 0; lists.some((l) => i < l.length); i++) for (const l of lists) if (i < l.length) out.push(l[i]!);
  return out;
}

/**
 * A steady submit load: `perSecond` scans a second, round robin over `providers`, until
 * stopped. Requests do not wait for each other (an API that hangs does not slow the load).
 */
export function steadyLoad(stack: Stack, targets: ScanTargets, log: SubmitLog, options: { perSecond: number; providers?: readonly Provider[] }): { stop(): Promise<void> } {
  const providers = options.providers ?? PROVIDERS;
  const inFlight = new Set<Promise<unknown>>();
  let n = 0;
  const timer = setInterval(() => {
    const p = submitScan(stack, targets, providers[n++ % providers.length]!, log);
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }, 1000 / options.perSecond);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight);
    },
  };
}
