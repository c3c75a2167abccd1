import { PROVIDERS, SIMULATOR_ACCOUNTS } from '@scanq/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { freePort, type ScanqProcess, startProcess, waitForHttp } from '../../../test/support/processes.js';

/**
 * SCANQ_DEMO_ACCOUNTS=true: every API process registers the simulator's demo accounts at start.
 * Three replicas starting at once (compose's `--scale api=3`) race on the same rows; Postgres
 * must end with one row per cloud, each pointed at SIM_URL.
 */
describe('demo accounts at API start (SCANQ_DEMO_ACCOUNTS)', () => {
  let env: TestEnv;
  const procs: ScanqProcess[] = [];
  const simUrl = 'http://127.0.0.1:45661';

  const demoRows = async () => {
    const client = new pg.Client({ connectionString: env.databaseUrl });
    await client.connect();
    try {
      return (await client.query<{ provider: string; name: string; endpoint: string | null; credentialRef: string; region: string }>('SELECT provider, name, endpoint, "credentialRef", region FROM "CloudAccount" ORDER BY provider')).rows;
    } finally {
      await client.end();
    }
  };

  const startApis = async (n: number, extra: Record<string, string>) => {
    const ports = await Promise.all(Array.from({ length: n }, () => freePort()));
    const started = ports.map((port, i) => startProcess(`api-${i}`, 'apps/api/src/main.ts', { ...env.env, API_PORT: String(port), ...extra }));
    procs.push(...started);
    // Three tsx processes starting at once on a loaded machine: a generous deadline.
    await Promise.all(started.map((p, i) => waitForHttp(`http://127.0.0.1:${ports[i]}/readyz`, p, 180_000)));
    return ports.map((port) => `http://127.0.0.1:${port}`);
  };

  beforeAll(async () => {
    env = await createTestEnv('demoaccounts');
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await env?.cleanup();
  });

  it('registers nothing unless asked', async () => {
    await startApis(1, { SIM_URL: simUrl });
    expect(await demoRows()).toEqual([]);
    await Promise.all(procs.splice(0).map((p) => p.stop()));
  }, 240_000);

  it('three replicas starting at once leave one account per cloud, pointed at SIM_URL', async () => {
    const apis = await startApis(3, { SIM_URL: simUrl, SCANQ_DEMO_ACCOUNTS: 'true' });
    const rows = await demoRows();
    expect(rows.map((r) => r.provider).sort()).toEqual([...PROVIDERS].sort());
    for (const row of rows) {
      const demo = SIMULATOR_ACCOUNTS[row.provider as (typeof PROVIDERS)[number]][0];
      expect(row).toMatchObject({ name: demo.name, region: demo.region, credentialRef: demo.name, endpoint: simUrl });
    }
    // The API serves them like any account.
    const listed = (await (await fetch(`${apis[2]}/v1/accounts`, { headers: AUTH })).json()) as { items?: { name: string }[] } | { name: string }[];
    const names = (Array.isArray(listed) ? listed : (listed.items ?? [])).map((a) => a.name).sort();
    expect(names).toEqual(PROVIDERS.map((p) => SIMULATOR_ACCOUNTS[p][0].name).sort());
  }, 240_000);

  it('a restart pointed at another simulator moves the accounts there (no second row)', async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop()));
    const moved = 'http://127.0.0.1:45662';
    await startApis(1, { SIM_URL: moved, SCANQ_DEMO_ACCOUNTS: 'true' });
    const rows = await demoRows();
    expect(rows).toHaveLength(PROVIDERS.length);
    expect(new Set(rows.map((r) => r.endpoint))).toEqual(new Set([moved]));
  }, 240_000);
});
