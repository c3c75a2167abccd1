import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2eStack, type E2eStack } from '../support/e2e-stack.js';
import { AUTH, type TestEnv } from '../support/env.js';
import { waitFor } from '../support/wait.js';
import { simulatorCalls } from '../support/simulator-calls.js';

const SCANS = 200;
const WORKERS = 4;

interface SimImage {
  Id: number;
  InstanceName: string;
  Namespace: string;
  ImageName: string;
  ImageTag: string;
  special: string | null;
  expected: { VulCnt: number };
}

/**
 * Tencent's limit, end to end as real processes: four workers share one TCSS account and must
 * together never send any API more than 20 calls in one second (the simulator counts per
 * wall-clock second, per API, and answers RequestLimitExceeded above 20 per account).
 */
describe(`end to end: ${SCANS} Tencent scans on ${WORKERS} worker processes stay within 20 requests/s per API`, () => {
  let stack: E2eStack;
  let env: TestEnv;
  let api = '';
  let sim = '';

  beforeAll(async () => {
    stack = await startE2eStack({
      name: 'e2etencent',
      env: {
        // Scans finish at once: the run is bound by the rate limit, not by scan time.
        SIM_TENCENT_SCAN_MS: '0',
        SIM_TENCENT_IMAGES: String(SCANS + 20),
        SCANQ_WORKER_QUEUES: 'tencent',
        LOG_LEVEL: 'warn',
      },
      workers: WORKERS,
    });
    ({ env, api, sim } = stack);
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('finishes every scan and no TCSS API ever sees more than 20 calls in one second', async () => {
    const tc = SIMULATOR_ACCOUNTS.tencent[0];
    const account = await fetch(`${api}/v1/accounts`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'tencent', name: tc.name, region: tc.region, endpoint: sim, credentialRef: tc.name }),
    });
    expect(account.status).toBe(201);

    const state = (await (await fetch(`${sim}/_sim/state/tencent`)).json()) as { accounts: { name: string; images: SimImage[] }[] };
    const images = state.accounts.find((a) => a.name === tc.name)!.images.filter((i) => i.special === null).slice(0, SCANS);
    expect(images).toHaveLength(SCANS);

    // Half by repository id (Detail to resolve), half by name (the registry list): every API is busy.
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < SCANS) {
          const i = next++;
          const img = images[i]!;
          const target = i % 2 === 0 ? { repositoryIds: [img.Id] } : { images: [{ registry: img.InstanceName, namespace: img.Namespace, name: img.ImageName, tag: img.ImageTag }] };
          const res = await fetch(`${api}/v1/scans`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ provider: 'tencent', account: tc.name, ...target }) });
          expect(res.status).toBe(202);
        }
      }),
    );

    const db = new pg.Client({ connectionString: env.databaseUrl });
    await db.connect();
    try {
      const counts = await waitFor(
        async () => {
          const { rows } = await db.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM "Scan" GROUP BY status');
          const by = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
          return (by.succeeded ?? 0) + (by.failed ?? 0) + (by.cancelled ?? 0) >= SCANS ? by : undefined;
        },
        { timeoutMs: 150_000, intervalMs: 500, what: `${SCANS} Tencent scans to end` },
      );
      const failures = await db.query<{ reason: string; error: string }>(`SELECT reason, error FROM "Scan" WHERE status <> 'succeeded' LIMIT 5`);
      expect(counts, JSON.stringify(failures.rows)).toEqual({ succeeded: SCANS });
      const findings = await db.query<{ n: string }>('SELECT count(*) AS n FROM "Finding"');
      expect(Number(findings.rows[0]!.n)).toBe(images.reduce((a, i) => a + i.expected.VulCnt, 0));
    } finally {
      await db.end();
    }

    const calls = await simulatorCalls(sim);
    const apis = Object.keys(calls.perSecond).filter((k) => k.startsWith('tencent:'));
    expect(apis).toEqual(expect.arrayContaining(['tencent:DescribeAssetImageRegistryDetail', 'tencent:CreateAssetImageRegistryScanTask', 'tencent:DescribeAssetImageRegistryVulList', 'tencent:DescribeAssetImageRegistryList']));
    for (const key of apis) {
      const worst = Math.max(...Object.values(calls.perSecond[key]!));
      expect(worst, `${key} per-second counts ${JSON.stringify(calls.perSecond[key])}`).toBeLessThanOrEqual(20);
    }
    // Nothing had to be refused: the workers' pacers kept every second within the limit.
    expect(Object.keys(calls.outcomes).filter((k) => k.startsWith('tencent:') && k.endsWith(':RequestLimitExceeded'))).toEqual([]);
    // Every scan started its TCSS task (a start job retried after a database hiccup may start one twice).
    expect(calls.totals['tencent:CreateAssetImageRegistryScanTask']).toBeGreaterThanOrEqual(SCANS);
  }, 240_000);
});
