import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2eStack, type E2eStack } from '../support/e2e-stack.js';
import { AUTH, type TestEnv } from '../support/env.js';
import { waitFor } from '../support/wait.js';

/**
 * The spine, end to end, as separate real processes: HTTP API → Postgres → BullMQ → worker →
 * AWS adapter (@aws-sdk/client-ecr) → simulator → findings in Postgres → back over HTTP.
 */
describe('end to end: one AWS scan from HTTP request to Postgres rows', () => {
  let stack: E2eStack;
  let env: TestEnv;
  let api = '';
  let sim = '';

  beforeAll(async () => {
    stack = await startE2eStack({ name: 'e2e', env: { SIM_AWS_SCAN_MS: '500', LOG_LEVEL: 'warn' } });
    ({ env, api, sim } = stack);
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('submits over HTTP, reaches succeeded, and the findings rows are in Postgres', async () => {
    const aws = SIMULATOR_ACCOUNTS.aws[0];
    const account = await fetch(`${api}/v1/accounts`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'aws', name: aws.name, region: aws.region, endpoint: sim, credentialRef: aws.name, settings: { registryId: aws.registryId } }),
    });
    expect(account.status).toBe(201);

    const submitted = await fetch(`${api}/v1/scans`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json', 'idempotency-key': 'e2e-1' },
      body: JSON.stringify({ provider: 'aws', account: aws.name, repositoryName: 'scanq/worker', imageId: { imageTag: 'latest' } }),
    });
    expect(submitted.status).toBe(202);
    const { id } = (await submitted.json()) as { id: string };

    const done = await waitFor(
      async () => {
        const s = (await (await fetch(`${api}/v1/scans/${id}`, { headers: AUTH })).json()) as { status: string; images: { digest: string; severityCounts: Record<string, number> }[]; severityCounts: Record<string, number> };
        return ['succeeded', 'failed'].includes(s.status) ? s : undefined;
      },
      { timeoutMs: 45_000, intervalMs: 200, what: 'scan to finish' },
    );
    expect(done.status).toBe('succeeded');
    const total = Object.values(done.severityCounts).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(0);

    const client = new pg.Client({ connectionString: env.databaseUrl });
    await client.connect();
    try {
      const rows = await client.query<{ n: string }>('SELECT count(*) AS n FROM "Finding" WHERE "scanId" = $1', [id]);
      expect(Number(rows.rows[0]!.n)).toBe(total);
      const raw = await client.query<{ raw: { name: string }; vulnerabilityId: string }>('SELECT raw, "vulnerabilityId" FROM "Finding" WHERE "scanId" = $1 LIMIT 5', [id]);
      for (const r of raw.rows) expect(r.raw.name).toBe(r.vulnerabilityId);
    } finally {
      await client.end();
    }

    let fetched = 0;
    let cursor: string | null = null;
    do {
      const page = (await (await fetch(`${api}/v1/scans/${id}/findings?limit=7${cursor ? `&cursor=${cursor}` : ''}`, { headers: AUTH })).json()) as { items: unknown[]; nextCursor: string | null };
      fetched += page.items.length;
      cursor = page.nextCursor;
    } while (cursor);
    expect(fetched).toBe(total);

    const repeat = await fetch(`${api}/v1/scans`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json', 'idempotency-key': 'e2e-1' },
      body: JSON.stringify({ provider: 'aws', account: aws.name, repositoryName: 'scanq/worker', imageId: { imageTag: 'latest' } }),
    });
    expect(((await repeat.json()) as { id: string }).id).toBe(id);
  });
});
