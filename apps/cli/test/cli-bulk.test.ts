import { ScanqClient } from '@scanq/client';
import { ApiKeyRepository } from '@scanq/db';
import { ApiKeyService } from '@scanq/scans';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerHarness } from '../../worker/test/harness.js';
import { buildBulkRequest, buildScheduleRequest } from '../src/bulk-request.js';
import { bulkLines, watchBulk } from '../src/bulk-watch.js';
import { colorsFor } from '../src/render.js';
import { type CliBackend, scanq, startCliBackend } from './run-cli.js';

const API_KEY = 'cli-bulk-test-bootstrap-key';


interface BulkJson {
  id: string;
  status: string;
  totals: Record<string, number>;
  byProvider: Record<string, Record<string, number>>;
}

describe('scanq bulk, schedules, cancel and keys as a process against the real API, worker and simulator', () => {
  let backend: CliBackend;
  let harness: WorkerHarness;
  let apiEnv: Record<string, string>;

  beforeAll(async () => {
    backend = await startCliBackend('clibulk', API_KEY, { SCANQ_WORKER_QUEUES: 'aws,maintenance', SCANQ_POLL_INITIAL_MS: '50' }, {
      simEnv: { SIM_AWS_SCAN_MS: '50' },
      // The API remembers a verified key for 10 s; with that cache off, a revocation made by the
      // CLI process shows at the very next request instead of up to 10 s later.
      runtime: (runtime) => ({ ...runtime, apiKeys: new ApiKeyService(new ApiKeyRepository(runtime.db), API_KEY, 0) }),
    });
    ({ harness, env: apiEnv } = backend);
  });
  afterAll(async () => {
    await backend?.close();
  });

  it('bulk --watch follows an AWS bulk scan to success (exit 0); ls lists it; watch --json prints its totals', async () => {
    const res = await scanq(['bulk', '--provider', 'aws', '--repository', 'scanq/api', '--tag-pattern', '1.*', '--skip-scanned-within', '24', '--account', 'sim-aws', '--watch', '--interval', '100'], apiEnv);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const id = /^bulk scan ([0-9a-f-]{36}) planning: aws · account sim-aws · scanq\/api · tags 1\.\* · skip scanned <24h$/m.exec(res.stdout)?.[1];
    expect(id).toBeDefined();
    // The last frame: every one of the five images matching 1.* finished, per provider too.
    expect(res.stdout).toMatch(new RegExp(`^${id!.slice(0, 8)} succeeded\\s+\\S+ 5/5 100%  ok 5  took`, 'm'));
    expect(res.stdout).toMatch(/^\s+aws\s+\S+ 5\/5  ok 5$/m);

    const [watched, listed, table] = await Promise.all([scanq(['bulk', 'watch', id!, '--json'], apiEnv), scanq(['bulk', 'ls', '--json'], apiEnv), scanq(['bulk', 'ls'], apiEnv)]);
    expect(watched.code).toBe(0);
    const bulk = JSON.parse(watched.stdout) as BulkJson;
    expect(bulk).toMatchObject({ id, status: 'succeeded', totals: { planned: 5, succeeded: 5, failed: 0 }, byProvider: { aws: { planned: 5, succeeded: 5 } } });
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { items: BulkJson[] }).items.map((b) => b.id)).toContain(id);
    expect(table.stdout).toMatch(new RegExp(`^${id}\\s+succeeded\\s+5/5\\s+5\\s+0\\s+0\\s+aws · account sim-aws`, 'm'));
  });

  it('bulk watch exits 1 when an image fails; bulk cancel of an ended bulk scan keeps its result', async () => {
    const created = await scanq(['bulk', '--repository', 'scanq/worker', '--tag-pattern', 'legacy-*', '--json'], apiEnv);
    expect(created.code).toBe(0);
    const { id } = JSON.parse(created.stdout) as BulkJson;
    const watched = await scanq(['bulk', 'watch', id, '--interval', '100'], apiEnv);
    expect(watched.code).toBe(1);
    expect(watched.stdout).toMatch(/succeeded\s+\S+ 1\/1 100%  failed 1/);
    const cancelled = await scanq(['bulk', 'cancel', id, '--json'], apiEnv);
    expect(cancelled.code).toBe(0);
    expect(JSON.parse(cancelled.stdout)).toMatchObject({ id, totals: { failed: 1 } });
  });

  it('bulk --watch exits 1 and names the account when one account of the selection could not be listed', async () => {
    // An account whose credentials this worker does not have: the planner cannot list it.
    await harness.worker.runtime.accounts.create({ provider: 'aws', name: 'unlisted', region: 'us-east-1', endpoint: harness.sim.url, credentialRef: 'nowhere' });
    const res = await scanq(['bulk', '--account', 'sim-aws', '--account', 'unlisted', '--repository', 'scanq/api', '--latest-only', '--watch', '--interval', '100'], apiEnv);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/succeeded .* 1\/1 100%  ok 1/);
    expect(res.stdout).toMatch(/not listed: unlisted: credential set "nowhere"/);
    const listed = await scanq(['bulk', 'ls'], apiEnv);
    expect(listed.stdout).toMatch(/\+1 account unlisted/);
  });

  it('on a terminal, redraws the bulk progress in place; a running bulk scan shows counts per provider and its ETA', async () => {
    const client = new ScanqClient({ baseUrl: apiEnv.SCANQ_API_URL!, apiKey: API_KEY });
    const created = await client.createBulkScan({ selector: { repositories: ['scanq/web'], latestTagOnly: true } });
    let out = '';
    const io = { out: (s: string) => void (out += s), err: () => undefined, isTTY: true, env: {} };
    const done = await watchBulk(client, created.id, io, colorsFor(false), { intervalMs: 50, json: false });
    expect(done.totals).toMatchObject({ planned: 1, succeeded: 1 });
    const frames = out.split('\x1b[?7l').filter(Boolean);
    expect(frames.length).toBeGreaterThan(1);
    for (const frame of frames.slice(1)) expect(frame).toMatch(/^\x1b\[\d+A/);
    expect(frames.at(-1)).toMatch(/succeeded\s+\S+ 1\/1 100%  ok 1  took \d+s/);

    // A frame of a bulk scan half way: finished/planned over all providers, one line each, ETA.
    const totals = (t: Partial<typeof done.totals>) => ({ planned: 0, queued: 0, running: 0, succeeded: 0, failed: 0, skipped: 0, cancelled: 0, ...t });
    const running = { ...done, status: 'running' as const, finishedAt: null, etaSeconds: 125, totals: totals({ planned: 40, succeeded: 12, failed: 1, skipped: 3, running: 4, queued: 20 }), byProvider: { aws: totals({ planned: 30, succeeded: 12, failed: 1, skipped: 3, running: 4, queued: 10 }), tencent: totals({ planned: 10, queued: 10 }) } };
    const lines = bulkLines(colorsFor(false), running);
    expect(lines[0]).toMatch(/running\s+\S+ 16\/40  40%  ok 12  failed 1  skipped 3  running 4  queued 20  ETA 2m 05s$/);
    expect(lines[1]).toMatch(/^\s+aws\s+\S+ 16\/30  ok 12  failed 1  skipped 3  running 4  queued 10$/);
    expect(lines[2]).toMatch(/^\s+tencent\s+\S+ 0\/10  queued 10$/);
  });

  it('maps every selector flag (repeated or comma lists) onto the API selector', () => {
    const flags = {
      provider: ['aws', 'tencent'],
      account: ['sim-aws'],
      region: ['us-east-1', 'ap-guangzhou'],
      registry: ['123456789012'],
      namespace: ['team-a'],
      repository: ['scanq/api'],
      tagPattern: ['1.*', 'release-??'],
      latestOnly: true,
      skipScannedWithin: '24',
    };
    const selector = { providers: ['aws', 'tencent'], accounts: ['sim-aws'], regions: ['us-east-1', 'ap-guangzhou'], registries: ['123456789012'], namespaces: ['team-a'], repositories: ['scanq/api'], tagPatterns: ['1.*', 'release-??'], latestTagOnly: true, skipScannedWithinHours: 24 };
    expect(buildBulkRequest({ ...flags, force: true, timeout: '600', webhookUrl: 'https://hooks.example.com/scanq' })).toEqual({
      ok: true,
      request: { selector, force: true, timeoutSeconds: 600, webhookUrl: 'https://hooks.example.com/scanq' },
    });
    expect(buildScheduleRequest({ ...flags, name: 'nightly', cron: '0 2 * * *', paused: true })).toEqual({
      ok: true,
      request: { name: 'nightly', cron: '0 2 * * *', timezone: 'UTC', selector, force: false, enabled: false },
    });
    expect(buildBulkRequest({ all: true })).toEqual({ ok: true, request: { selector: {} } });
  });

  it('exits 2 on a bad selector flag, naming the field, the rule and the flag, before anything is sent', async () => {
    const [text, json, none, badId] = await Promise.all([
      scanq(['bulk', '--provider', 'aws', '--tag-pattern', 'v1/*'], apiEnv),
      scanq(['bulk', '--provider', 'aws,gcp', '--skip-scanned-within', '-1', '--json'], apiEnv),
      // No selector at all would mean every image of every account: the CLI wants --all for that.
      scanq(['bulk', '--force'], apiEnv),
      scanq(['bulk', 'watch', 'not-an-id'], apiEnv),
    ]);
    expect(text.code).toBe(2);
    expect(text.stderr).toMatch(/body\.selector\.tagPatterns\.0\s+pattern\s+.*\(--tag-pattern\)/);
    expect(json.code).toBe(2);
    expect((JSON.parse(json.stderr) as { issues: unknown[] }).issues).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'body.selector.providers.1', rule: 'one_of' }),
        expect.objectContaining({ field: 'body.selector.skipScannedWithinHours', rule: 'minimum' }),
      ]),
    );
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/body\.selector\s+required\s+.*--all/);
    expect(badId.code).toBe(2);
    expect(badId.stderr).toMatch(/bulkScanId\s+uuid/);
  });

  it('schedules: add, ls with the next run, pause, resume, rm, by name', async () => {
    const added = await scanq(['schedules', 'add', '--name', 'nightly', '--cron', '0 2 * * *', '--timezone', 'Europe/Berlin', '--provider', 'aws', '--latest-only', '--json'], apiEnv);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    const schedule = JSON.parse(added.stdout) as { id: string; enabled: boolean; nextRunAt: string; selector: unknown };
    expect(schedule).toMatchObject({ enabled: true, selector: { providers: ['aws'], latestTagOnly: true } });

    const [ls, badCron] = await Promise.all([scanq(['schedules', 'ls'], apiEnv), scanq(['schedules', 'add', '--name', 'broken', '--cron', '61 * * * *', '--all'], apiEnv)]);
    expect(ls.code).toBe(0);
    // The next run is shown in the schedule's own zone: 02:00 in Berlin.
    expect(badCron.code).toBe(2);
    expect(badCron.stderr).toMatch(/body\.cron\s+constraint\s+is not a valid cron expression \(Constraint error, got value 61 expected range 0-59\) \(--cron\)/);
    expect(ls.stdout).toMatch(new RegExp(`^nightly\\s+active\\s+0 2 \\* \\* \\*\\s+\\d{4}-\\d\\d-\\d\\d 02:00 Europe/Berlin \\(in [^)]+\\)\\s+never\\s+aws · latest only\\s+${schedule.id}$`, 'm'));

    const paused = await scanq(['schedules', 'pause', 'nightly'], apiEnv);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toContain('paused, next run: paused');
    const pausedLs = await scanq(['schedules', 'ls', '--json'], apiEnv);
    expect(JSON.parse(pausedLs.stdout)).toEqual([expect.objectContaining({ id: schedule.id, enabled: false, nextRunAt: null })]);
    const resumed = await scanq(['schedules', 'resume', schedule.id, '--json'], apiEnv);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ enabled: true, nextRunAt: schedule.nextRunAt });

    const removed = await scanq(['schedules', 'rm', 'nightly'], apiEnv);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain(`deleted schedule nightly (${schedule.id})`);
    const [after, gone] = await Promise.all([scanq(['schedules', 'ls', '--json'], apiEnv), scanq(['schedules', 'pause', 'nightly', '--json'], apiEnv)]);
    expect(JSON.parse(after.stdout)).toEqual([]);
    expect(gone.code).toBe(3);
    expect(JSON.parse(gone.stderr)).toMatchObject({ error: 'not_found' });
  });

  it('cancel: an ended scan stays as it was; an unknown id is 404 (exit 3), a malformed one exit 2', async () => {
    const submitted = await scanq(['scan', 'aws', '--account', 'sim-aws', '--repository', 'scanq/web', '--tag', '2.0.0', '--watch', '--json', '--interval', '100'], apiEnv);
    expect(submitted.code).toBe(0);
    const scan = JSON.parse(submitted.stdout) as { id: string };
    const [res, unknown, malformed] = await Promise.all([scanq(['cancel', scan.id], apiEnv), scanq(['cancel', '01900000-0000-7000-8000-000000000000'], apiEnv), scanq(['cancel', 'nope'], apiEnv)]);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(`${scan.id} had already ended: succeeded\n`);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('404');
    expect(malformed.code).toBe(2);
  });

  it('keys: create prints a key the API accepts; ls never shows it; after revoke the API answers 401 (exit 3)', async () => {
    // Keys live in Postgres: the CLI needs DATABASE_URL, and no API key.
    const dbEnv = { DATABASE_URL: harness.env.databaseUrl };
    const created = await scanq(['keys', 'create', 'ci-robot', '--json'], dbEnv);
    expect(created.code).toBe(0);
    const { name, key } = JSON.parse(created.stdout) as { name: string; key: string };
    expect(name).toBe('ci-robot');
    expect(key).toMatch(/^scanq_[a-z0-9]{10}_[A-Za-z0-9_-]{32,}$/);

    const urlOnly = { SCANQ_API_URL: apiEnv.SCANQ_API_URL! };
    const [used, duplicate, listed] = await Promise.all([scanq(['ls', '--api-key', key], urlOnly), scanq(['keys', 'create', 'ci-robot'], dbEnv), scanq(['keys', 'ls', '--json'], dbEnv)]);
    expect(used.stderr).toBe('');
    expect(used.code).toBe(0);
    expect(duplicate.code).toBe(2);
    expect(duplicate.stderr).toContain('a key named "ci-robot" exists');

    expect(listed.code).toBe(0);
    expect(listed.stdout).not.toContain(key.slice(17));
    const rows = JSON.parse(listed.stdout) as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(Object.keys(rows[0]!).sort()).toEqual(['createdAt', 'lastUsedAt', 'name', 'prefix', 'revokedAt']);
    expect(rows[0]).toMatchObject({ name: 'ci-robot', prefix: key.slice(6, 16), revokedAt: null });

    const revoked = await scanq(['keys', 'revoke', 'ci-robot'], dbEnv);
    expect(revoked.code).toBe(0);
    const [refused, again, table] = await Promise.all([scanq(['ls', '--api-key', key, '--json'], urlOnly), scanq(['keys', 'revoke', 'ci-robot'], dbEnv), scanq(['keys', 'ls'], dbEnv)]);
    expect(refused.code).toBe(3);
    expect(JSON.parse(refused.stderr)).toMatchObject({ status: 401, error: 'unauthorized' });
    expect(again.code).toBe(3);
    expect(again.stderr).toContain('no active key named "ci-robot"');
    expect(table.stdout).not.toContain(key.slice(17));
    expect(table.stdout).toMatch(new RegExp(`^ci-robot\\s+scanq_${key.slice(6, 16)}_…\\s+\\d{4}-\\d\\d-\\d\\d \\S+\\s+(never|\\d{4}-\\S+ \\S+)\\s+\\d{4}-\\d\\d-\\d\\d`, 'm'));
  });
});
