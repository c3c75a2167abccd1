import { ScanqClient } from '@scanq/client';
import { simulatorAccountRequest } from '@scanq/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerHarness } from '../../worker/test/harness.js';
import { freePort } from '../../../test/support/processes.js';
import { colorsFor } from '../src/render.js';
import { type CliBackend, scanq, startCliBackend } from './run-cli.js';
import { watchScans } from '../src/watch.js';

const API_KEY = 'cli-test-bootstrap-key';


describe('scanq CLI as a process against the real API, worker and simulator', () => {
  let backend: CliBackend;
  let harness: WorkerHarness;
  let apiEnv: Record<string, string>;

  beforeAll(async () => {
    // SCANQ_API_KEY: the API's bootstrap key; the CLI reads the same variable.
    backend = await startCliBackend('cli', API_KEY, { SCANQ_WORKER_QUEUES: 'aws' });
    ({ harness, env: apiEnv } = backend);
  });
  afterAll(async () => {
    await backend?.close();
  });

  it('scan aws --json prints the queued scan; watch exits 0 once it succeeded; findings and ls print parseable JSON and tables', async () => {
    const submitted = await scanq(['scan', 'aws', '--account', 'sim-aws', '--repository', 'scanq/web', '--tag', 'latest', '--idempotency-key', 'cli-1', '--json'], apiEnv);
    expect(submitted.stderr).toBe('');
    expect(submitted.code).toBe(0);
    const scan = JSON.parse(submitted.stdout) as { id: string; status: string; provider: string };
    expect(scan).toMatchObject({ provider: 'aws', status: 'queued' });

    const watched = await scanq(['watch', scan.id, '--interval', '100'], apiEnv);
    expect(watched.code).toBe(0);
    expect(watched.stdout).toContain('succeeded');
    expect(watched.stdout).toContain(scan.id.slice(0, 8));
    expect(watched.stdout).toContain('scanq/web:latest');

    const final = await scanq(['watch', scan.id, '--json'], apiEnv);
    expect(final.code).toBe(0);
    const done = JSON.parse(final.stdout) as { status: string; severityCounts: Record<string, number> };
    expect(done.status).toBe('succeeded');
    const total = Object.values(done.severityCounts).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(0);

    const findings = await scanq(['findings', scan.id, '--json', '--limit', '500'], apiEnv);
    expect(findings.code).toBe(0);
    expect((JSON.parse(findings.stdout) as unknown[]).length).toBe(total);

    const table = await scanq(['findings', scan.id, '--limit', '3'], apiEnv);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines.some((l) => /^SEVERITY\s+VULNERABILITY\s+PACKAGE/.test(l))).toBe(true);
    expect(table.stdout).toMatch(/showing 3 of \d+/);

    const listed = await scanq(['ls', '--provider', 'aws', '--status', 'succeeded', '--json'], apiEnv);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { items: { id: string }[] }).items.map((s) => s.id)).toContain(scan.id);
    const lsTable = await scanq(['ls', '--limit', '5'], apiEnv);
    expect(lsTable.stdout).toMatch(new RegExp(`${scan.id}\\s+aws\\s+succeeded\\s+100%`));
  });

  it('scan --watch exits 1 when the scan fails, naming the reason', async () => {
    const res = await scanq(['scan', 'aws', '--account', 'sim-aws', '--repository', 'scanq/worker', '--tag', 'legacy-scratch', '--watch', '--interval', '100'], apiEnv);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/failed\s+scanq\/worker:legacy-scratch\s+\(scan_failed/);
  });

  it('exits 2 on bad input, naming the field and the rule, before anything is sent', async () => {
    const res = await scanq(['scan', 'aws', '--account', 'sim-aws', '--repository', 'X', '--tag', 'latest'], apiEnv);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/body\.repositoryName\s+min_length/);
    const json = await scanq(['scan', 'aws', '--account', 'sim-aws', '--repository', 'scanq/web', '--registry-id', '42', '--json'], apiEnv);
    expect(json.code).toBe(2);
    const body = JSON.parse(json.stderr) as { issues: { field: string; rule: string }[] };
    expect(body.issues).toEqual(
      expect.arrayContaining([
        { field: 'body.registryId', rule: 'pattern', message: expect.any(String) },
        { field: 'body.imageId', rule: 'required', message: expect.any(String) },
      ]),
    );
    const badJson = await scanq(['scan', 'alibaba', '--account', 'sim-alibaba', '--target-json', '{oops'], apiEnv);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain('--target-json');
    const badQuery = await scanq(['ls', '--limit', '0'], apiEnv);
    expect(badQuery.code).toBe(2);
    expect(badQuery.stderr).toMatch(/querystring\.limit\s+minimum/);
  });

  it('exits 2 for settings no request could carry, naming the flag or variable; an empty variable is an unset one', async () => {
    const scan = ['scan', 'aws', '--account', 'sim-aws', '--repository', 'scanq/web', '--tag', 'latest'];
    const key = await scanq([...scan, '--idempotency-key', '键', '--json'], apiEnv);
    expect(key.code).toBe(2);
    expect(JSON.parse(key.stderr).issues).toEqual([expect.objectContaining({ field: '--idempotency-key', rule: 'pattern' })]);
    const url = await scanq(['ls', '--api-url', 'not-a-url'], apiEnv);
    expect(url.code).toBe(2);
    expect(url.stderr).toContain('--api-url / SCANQ_API_URL');
    const schemeless = await scanq(['ls'], { ...apiEnv, SCANQ_API_URL: 'localhost:3000' });
    expect(schemeless.code).toBe(2);
    expect(schemeless.stderr).toMatch(/SCANQ_API_URL: must be an http\(s\) URL/);
    const newline = await scanq(['ls', '--api-key', `${API_KEY}\n`], apiEnv);
    expect(newline.code).toBe(2);
    expect(newline.stderr).toContain('--api-key / SCANQ_API_KEY');
    // SCANQ_API_KEY= (empty) is no key: the flag supplies it.
    const emptyVar = await scanq(['ls', '--api-key', API_KEY], { ...apiEnv, SCANQ_API_KEY: '' });
    expect(emptyVar.stderr).toBe('');
    expect(emptyVar.code).toBe(0);
    const interval = await scanq(['watch', '01900000-0000-7000-8000-000000000000', '--interval', '99999999999'], apiEnv);
    expect(interval.code).toBe(2);
    expect(interval.stderr).toContain('--interval');
  });

  it('names the flag behind a bad field, prints usage errors as JSON under --json, and exits 2 for a missing command', async () => {
    const missing = await scanq(['scan', 'aws', '--repository', 'scanq/web', '--tag', 'latest', '--timeout', '5', '--json'], apiEnv);
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stderr).issues).toEqual(
      expect.arrayContaining([
        { field: 'body.account', rule: 'required', message: 'is required (--account)' },
        expect.objectContaining({ field: 'body.timeoutSeconds', rule: 'minimum', message: expect.stringMatching(/\(--timeout\)$/) }),
      ]),
    );
    const usage = await scanq(['--json', 'ls', '--bogus'], apiEnv);
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stderr)).toMatchObject({ error: 'usage', message: expect.stringContaining('--bogus') });
    const group = await scanq(['keys'], apiEnv);
    expect(group.code).toBe(2);
    expect(group.stderr).toContain('Usage: scanq keys');
    const help = await scanq(['keys', '--help'], apiEnv);
    expect(help.code).toBe(0);
  });

  it('stops quietly when its reader has gone (a closed pipe is no crash)', async () => {
    const res = await scanq(['ls', '--json', '--limit', '500'], apiEnv, { closeStdout: true });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
  });

  it("exits 2 when the API rejects the request (unknown account), showing the API's issue", async () => {
    const res = await scanq(['scan', 'aws', '--account', 'nobody', '--repository', 'scanq/web', '--tag', 'latest', '--json'], apiEnv);
    expect(res.code).toBe(2);
    expect(JSON.parse(res.stderr)).toMatchObject({ status: 422, issues: [expect.objectContaining({ field: 'body.account' })] });
  });

  it('exits 3 when the API is unreachable, the key is refused, or the scan is unknown', async () => {
    const port = await freePort();
    const down = await scanq(['ls', '--api-url', `http://127.0.0.1:${port}`]);
    expect(down.code).toBe(3);
    expect(down.stderr).toContain('cannot reach the scanq API');
    const keyless = await scanq(['ls', '--api-key', 'wrong-key-wrong-key'], { SCANQ_API_URL: apiEnv.SCANQ_API_URL! });
    expect(keyless.code).toBe(3);
    // The refusal names the header at fault, then the hint.
    expect(keyless.stderr).toMatch(/401 unauthorized[^\n]*\n[\s\S]*\nheaders\.authorization +api_key [^\n]*\n[^\n]*--api-key or SCANQ_API_KEY/);
    const missing = await scanq(['watch', '01900000-0000-7000-8000-000000000000'], apiEnv);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('404');
  });

  it('on a terminal, redraws the progress bars in place until the scan ends', async () => {
    const client = new ScanqClient({ baseUrl: apiEnv.SCANQ_API_URL!, apiKey: API_KEY });
    const { scan } = await client.createScan({ provider: 'aws', account: 'sim-aws', repositoryName: 'scanq/api', imageId: { imageTag: '1.4.1' } });
    let out = '';
    const io = { out: (s: string) => void (out += s), err: () => undefined, isTTY: true, env: {} };
    const { allSucceeded } = await watchScans(client, [scan.id], io, colorsFor(false), { intervalMs: 50, json: false });
    expect(allSucceeded).toBe(true);
    const frames = out.split('\x1b[?7l').filter(Boolean);
    expect(frames.length).toBeGreaterThan(1);
    // Every frame after the first moves the cursor up over the previous one before drawing.
    for (const frame of frames.slice(1)) expect(frame).toMatch(/^\x1b\[\d+A/);
    expect(frames.at(-1)).toMatch(/100%\s+succeeded\s+scanq\/api:1\.4\.1/);
  });

  it('adds and lists accounts', async () => {
    const req = simulatorAccountRequest('aws', 1, harness.sim.url);
    const added = await scanq(
      ['accounts', 'add', '--provider', 'aws', '--name', req.name, '--region', req.region, '--credential-ref', req.credentialRef, '--endpoint', harness.sim.url, '--settings-json', JSON.stringify(req.settings ?? {}), '--json'],
      apiEnv,
    );
    expect(added.code).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ name: req.name, provider: 'aws' });
    const listed = await scanq(['accounts', 'ls', '--provider', 'aws'], apiEnv);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^${req.name}\\s+aws\\s+${req.region}`, 'm'));
    const dup = await scanq(['accounts', 'add', '--provider', 'aws', '--name', req.name, '--region', req.region, '--credential-ref', req.credentialRef], apiEnv);
    expect(dup.code).toBe(2);
    expect(dup.stderr).toMatch(/409 conflict/);
  });

  it('accounts add refuses an endpoint it may not store, naming --endpoint and the rule, never echoing a password', async () => {
    const add = (endpoint: string) => scanq(['accounts', 'add', '--provider', 'aws', '--name', 'bad-endpoint', '--region', 'us-east-1', '--credential-ref', 'sim-aws', '--endpoint', endpoint, '--json'], apiEnv);
    // Refused before sending (rules that hold whatever the server's settings) and by the API (its policy).
    for (const [endpoint, rule] of [
      ['gopher://127.0.0.1:6379/_x', 'scheme'],
      ['https://scanq:hunter2@ecr.example.com', 'no_userinfo'],
      ['http://ecr.example.com', 'https'],
      ['https://169.254.169.254', 'public_address'],
    ] as const) {
      const res = await add(endpoint);
      expect(res.code, endpoint).toBe(2);
      expect(JSON.parse(res.stderr).issues, endpoint).toEqual([expect.objectContaining({ field: 'body.endpoint', rule })]);
      expect(res.stderr).not.toContain('hunter2');
    }
    expect((await scanq(['accounts', 'ls', '--json'], apiEnv)).stdout).not.toContain('bad-endpoint');
  });

  it('migrate applies nothing new to an already migrated database', async () => {
    const res = await scanq(['migrate', '--json'], { DATABASE_URL: harness.env.databaseUrl });
    expect(res.code).toBe(0);
    const result = JSON.parse(res.stdout) as { createdDatabase: boolean; applied: string[]; alreadyApplied: string[] };
    expect(result).toMatchObject({ createdDatabase: false, applied: [] });
    expect(result.alreadyApplied.length).toBeGreaterThan(0);
  });
});
