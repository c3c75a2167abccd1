import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2eStack, type E2eStack } from '../support/e2e-stack.js';
import { AUTH } from '../support/env.js';
import { PGBOUNCER_BIN, PgBouncerServer } from '../support/pgbouncer.js';
import { freePort, type ScanqProcess, waitForHttp } from '../support/processes.js';
import { PostgresServer } from '../support/servers.js';
import { waitFor } from '../support/wait.js';

const json = { ...AUTH, 'content-type': 'application/json' };
/** Server connections PgBouncer keeps to Postgres: far fewer than the clients' pools. */
const BOUNCER_POOL = 2;
const POOL_MAX = 4;
const WORKERS = 2;
/** The README's budget: the API's pool + each worker's pool (maintenance runs inside a worker, on its pool). */
const CLIENT_BUDGET = POOL_MAX + WORKERS * POOL_MAX;
const SCANS = 24;
const PREPARED_ERROR = /prepared statement \\?"[^"\\]+\\?" (does not exist|already exists)/;

/**
 * The PgBouncer transaction-pooling path end to end: the API and two workers as processes reach
 * a Postgres of the test's own only through a pgbouncer of its own (pool_mode=transaction, two
 * server connections, handed out round robin so consecutive transactions of one client land on
 * different server connections). With SCANQ_DB_PREPARED_STATEMENTS=false every scan completes
 * and neither pool outgrows its budget (counted at the bouncer and in pg_stat_activity); with
 * prepared statements on, PgBouncer 1.18 (< 1.21: no prepared-statement tracking) breaks the
 * hot path's named statements as the README warns.
 */
describe.skipIf(!PGBOUNCER_BIN)('Postgres behind PgBouncer in transaction mode', () => {
  let stack: E2eStack;
  let postgres: PostgresServer;
  let bouncer: PgBouncerServer;
  let direct: pg.Client;
  let api = '';
  let sim = '';
  let imageNo = 0;

  beforeAll(async () => {
    postgres = await PostgresServer.create();
    bouncer = await PgBouncerServer.start(postgres, { defaultPoolSize: BOUNCER_POOL, roundRobin: true });
    direct = new pg.Client({ connectionString: postgres.url, application_name: 'scanq-test-observer' });
    await direct.connect();
    stack = await startE2eStack({
      name: 'pgbouncer',
      env: { DATABASE_URL: bouncer.url, SCANQ_DB_POOL_MAX: String(POOL_MAX), SCANQ_DB_PREPARED_STATEMENTS: 'false', SIM_AWS_SCAN_MS: '300' },
      workers: 0,
    });
    ({ api, sim } = stack);
    const aws = SIMULATOR_ACCOUNTS.aws[0];
    const account = await fetch(`${api}/v1/accounts`, { method: 'POST', headers: json, body: JSON.stringify({ provider: 'aws', name: aws.name, region: aws.region, endpoint: sim, credentialRef: aws.name, settings: { registryId: aws.registryId } }) });
    expect(account.status).toBe(201);
  }, 180_000);

  afterAll(async () => {
    await stack?.close();
    await direct?.end().catch(() => undefined);
    await bouncer?.destroy();
    await postgres?.destroy();
  });

  const startWorkers = async (prepared: boolean): Promise<ScanqProcess[]> => {
    const workers = await Promise.all(
      Array.from({ length: WORKERS }, async (_, i) => {
        const port = await freePort();
        const w = stack.startWorker(`worker-${prepared ? 'prepared' : 'unnamed'}-${i}`, { SCANQ_DB_PREPARED_STATEMENTS: String(prepared), SCANQ_WORKER_QUEUES: 'aws,maintenance', SCANQ_WORKER_HTTP_PORT: String(port) });
        // Its /readyz: Postgres (through the bouncer) and Redis usable, its queues consuming.
        await waitForHttp(`http://127.0.0.1:${port}/readyz`, w, 90_000);
        return w;
      }),
    );
    return workers;
  };

  const submit = async (n: number): Promise<string[]> => {
    const aws = SIMULATOR_ACCOUNTS.aws[0];
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const tag = `b-${String(imageNo++).padStart(5, '0')}`;
      const res = await fetch(`${api}/v1/scans`, { method: 'POST', headers: { ...json, 'idempotency-key': `pgbouncer-${tag}` }, body: JSON.stringify({ provider: 'aws', account: aws.name, repositoryName: 'bench/images', imageId: { imageTag: tag } }) });
      expect(res.status, await res.clone().text()).toBe(202);
      ids.push(((await res.json()) as { id: string }).id);
    }
    return ids;
  };

  it('prepared statements off: every scan completes and the pools stay within the budget', async () => {
    const workers = await startWorkers(false);
    let maxServer = 0;
    let maxClients = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const [server, clients] = await Promise.all([
          direct.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = 'scanq' AND backend_type = 'client backend' AND pid <> pg_backend_pid()`),
          bouncer.show<{ database: string }>('SHOW CLIENTS'),
        ]);
        maxServer = Math.max(maxServer, server.rows[0]!.n);
        // The console's own connection is to database "pgbouncer".
        maxClients = Math.max(maxClients, clients.filter((c) => c.database === 'scanq').length);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      const ids = await submit(SCANS);
      await waitFor(async () => ((await direct.query<{ n: number }>(`SELECT count(*)::int AS n FROM "Scan" WHERE id = ANY($1::uuid[]) AND status IN ('succeeded', 'failed', 'cancelled')`, [ids])).rows[0]!.n === SCANS ? true : undefined), { timeoutMs: 180_000, intervalMs: 250, what: 'every scan to end' });
      const byStatus = (await direct.query<{ status: string; n: number }>(`SELECT status::text, count(*)::int AS n FROM "Scan" WHERE id = ANY($1::uuid[]) GROUP BY 1`, [ids])).rows;
      expect(byStatus).toEqual([{ status: 'succeeded', n: SCANS }]);
    } finally {
      sampling = false;
      await sampler;
    }
    console.log(`through PgBouncer (transaction mode, ${BOUNCER_POOL} server connections): ${SCANS} scans; most client connections at the bouncer ${maxClients} (budget ${CLIENT_BUDGET}), most server connections in pg_stat_activity ${maxServer}`);
    expect(maxClients).toBeGreaterThan(0);
    expect(maxClients).toBeLessThanOrEqual(CLIENT_BUDGET);
    expect(maxServer).toBeLessThanOrEqual(BOUNCER_POOL);
    for (const w of workers) expect(w.output()).not.toMatch(PREPARED_ERROR);
    await Promise.all(workers.map((w) => w.stop()));
  }, 300_000);

  it('prepared statements on: the hot path fails with "prepared statement … does not exist / already exists"', async () => {
    const workers = await startWorkers(true);
    await submit(8);
    const seen = await waitFor(() => workers.map((w) => PREPARED_ERROR.exec(w.output())?.[0]).find(Boolean), { timeoutMs: 120_000, intervalMs: 250, what: 'a prepared-statement error in a worker' });
    console.log(`prepared statements on through PgBouncer 1.18 transaction mode: ${seen}`);
    expect(seen).toMatch(PREPARED_ERROR);
    await Promise.all(workers.map((w) => w.stop()));
  }, 300_000);
});
