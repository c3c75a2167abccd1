import { simulatorAccountRequest } from '@scanq/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2eStack, type E2eStack } from '../support/e2e-stack.js';
import { AUTH, type TestEnv } from '../support/env.js';
import { waitFor } from '../support/wait.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Schedules as separate processes: the API writes the schedule, three workers run, and each
 * cron tick creates exactly one bulk scan (BullMQ job scheduler + unique (schedule, tick)).
 */
describe('schedules across three worker processes', () => {
  let stack: E2eStack;
  let env: TestEnv;
  let api = '';
  let db: pg.Client;

  beforeAll(async () => {
    stack = await startE2eStack({ name: 'sched', env: { SIM_AWS_SCAN_MS: '50', SCANQ_POLL_INITIAL_MS: '50', LOG_LEVEL: 'warn' }, workers: 3 });
    ({ env, api } = stack);
    const account = await fetch(`${api}/v1/accounts`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify(simulatorAccountRequest('aws', 0, stack.sim)) });
    expect(account.status).toBe(201);
    db = new pg.Client({ connectionString: env.databaseUrl });
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await stack?.close();
  });

  const bulkTicks = async (scheduleId: string) =>
    (await db.query<{ tick: Date }>('SELECT "tickAt" AS tick FROM "BulkScan" WHERE "scheduleId" = $1 ORDER BY "tickAt"', [scheduleId])).rows.map((r) => r.tick.getTime());

  it('rejects a bad cron and an unknown time zone naming the field', async () => {
    const res = await fetch(`${api}/v1/schedules`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bad', cron: '61 * * * *', timezone: 'Mars/Olympus', selector: {} }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { issues: { field: string; rule: string }[] };
    expect(body.issues.map((i) => i.field).sort()).toEqual(['body.cron', 'body.timezone']);
  });

  it('creates exactly one bulk scan per tick, none while paused, none after deletion', async () => {
    const created = await fetch(`${api}/v1/schedules`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'every-2s', cron: '*/2 * * * * *', timezone: 'Europe/Berlin', selector: { repositories: ['scanq/web'], latestTagOnly: true } }),
    });
    expect(created.status).toBe(201);
    const schedule = (await created.json()) as { id: string; nextRunAt: string };
    expect(new Date(schedule.nextRunAt).getTime()).toBeGreaterThan(Date.now() - 1000);

    await waitFor(async () => ((await bulkTicks(schedule.id)).length >= 4 ? true : undefined), { timeoutMs: 30_000, what: 'four ticks' });
    const ticks = await bulkTicks(schedule.id);
    // One bulk scan per tick: tick times are distinct and exactly one cron period apart.
    expect(new Set(ticks).size).toBe(ticks.length);
    for (let i = 1; i < ticks.length; i++) expect(ticks[i]! - ticks[i - 1]!).toBe(2000);

    const paused = await fetch(`${api}/v1/schedules/${schedule.id}`, { method: 'PATCH', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ enabled: false }) });
    expect(((await paused.json()) as { enabled: boolean; nextRunAt: string | null }).nextRunAt).toBeNull();
    await sleep(500); // a tick already in flight may still land
    const atPause = (await bulkTicks(schedule.id)).length;
    await sleep(3000);
    expect((await bulkTicks(schedule.id)).length).toBe(atPause);

    const resumed = await fetch(`${api}/v1/schedules/${schedule.id}`, { method: 'PATCH', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ enabled: true }) });
    expect(resumed.status).toBe(200);
    await waitFor(async () => ((await bulkTicks(schedule.id)).length > atPause ? true : undefined), { timeoutMs: 10_000, what: 'a tick after resuming' });

    expect((await fetch(`${api}/v1/schedules/${schedule.id}`, { method: 'DELETE', headers: AUTH })).status).toBe(204);
    await sleep(500);
    const atDelete = await db.query<{ n: string }>('SELECT count(*) AS n FROM "BulkScan" WHERE "createdAt" > now() - interval \'1 hour\'');
    await sleep(3000);
    const later = await db.query<{ n: string }>('SELECT count(*) AS n FROM "BulkScan" WHERE "createdAt" > now() - interval \'1 hour\'');
    expect(later.rows[0]!.n).toBe(atDelete.rows[0]!.n);
    expect((await fetch(`${api}/v1/schedules/${schedule.id}`, { headers: AUTH })).status).toBe(404);

    // The bulk scans the schedule created ran to the end.
    await waitFor(
      async () => {
        const open = await db.query<{ n: string }>(`SELECT count(*) AS n FROM "BulkScan" WHERE status IN ('planning','running')`);
        return open.rows[0]!.n === '0' ? true : undefined;
      },
      { timeoutMs: 30_000, what: 'scheduled bulk scans to finish' },
    );
    const view = (await (await fetch(`${api}/v1/bulk-scans?limit=1`, { headers: AUTH })).json()) as { items: { status: string; totals: { planned: number; succeeded: number } }[] };
    expect(view.items[0]).toMatchObject({ status: 'succeeded', totals: { planned: 1, succeeded: 1 } });
  });
});
