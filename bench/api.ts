/**
 * The API under load (`pnpm bench api`): a real API process on loopback, on a store of its own
 * (the machine's Redis and Postgres, own database and prefix, simulator accounts; no worker, so
 * accepted scans stay queued), driven by autocannon from this process:
 *   POST /v1/scans      goal ≥ 3,000 requests/s with p99 ≤ 50 ms (each 202 is a row in Postgres and a job in Redis)
 *   GET  /v1/scans/:id  goal ≥ 5,000 requests/s
 * Only 2xx answers count towards a rate. The load generator shares the machine's two cores with
 * the API, Postgres and Redis (and whatever else runs: the load average is printed beside).
 * BENCH_API_SECONDS (default 10) per phase, BENCH_API_CONNECTIONS (default 32);
 * SCANQ_CPU_PROFILE_DIR=<dir> writes the API's V8 CPU profile there when it exits.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { loadConfig, simulatorAccountRequest } from '@scanq/core';
import { createRuntime } from '@scanq/scans';
import autocannon from 'autocannon';
import { freePort, startProcess, waitForHttp } from '../test/support/processes.js';
import { benchEnv, createBenchStore, runWhenMain } from './support.js';

const SECONDS = Number(process.env.BENCH_API_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_API_CONNECTIONS ?? 32);
const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;

const load = () => loadavg().map((l) => l.toFixed(2)).join(' / ');

/** CPU time (user + system, ms) a process has used so far, from /proc (the judge on this VM: V8 profiles count pre-emption as writev). */
const cpuMs = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in USER_HZ (100)
};
const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

interface Phase {
  rate: number;
  /** CPU ms per 2xx answer: the API process's and the load generator's. */
  apiCpu: number;
  genCpu: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function phase(apiPid: number, options: autocannon.Options): Promise<Phase> {
  const [api0, gen0] = [cpuMs(apiPid), selfCpuMs()];
  const result = await autocannon({ connections: CONNECTIONS, duration: SECONDS, ...options });
  const ok = Math.max(1, result['2xx']);
  return { rate: result['2xx'] / SECONDS, apiCpu: (cpuMs(apiPid) - api0) / ok, genCpu: (selfCpuMs() - gen0) / ok, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors + result.timeouts };
}

const figure = (p: Phase, goal: { rate: number; p99?: number }) => {
  const met = p.rate >= goal.rate && (goal.p99 === undefined || p.p99 <= goal.p99);
  const goalText = `goal ≥ ${goal.rate.toLocaleString('en')}/s${goal.p99 === undefined ? '' : `, p99 ≤ ${goal.p99} ms`}`;
  return `${p.rate.toFixed(0)} req/s, p50 ${p.p50} ms, p99 ${p.p99} ms (${goalText}: ${met ? 'met' : 'NOT met'}; ${p.non2xx} non-2xx, ${p.errors} errors; CPU per answer: API ${p.apiCpu.toFixed(2)} ms, autocannon ${p.genCpu.toFixed(2)} ms)`;
};

export async function benchApi(): Promise<Record<string, string>> {
  const store = await createBenchStore('api', run);
  const apiKey = `scanq-bench-${randomBytes(12).toString('hex')}`;
  const env = { ...benchEnv(store), SCANQ_API_KEY: apiKey };
  const setup = createRuntime(loadConfig({ ...env, LOG_LEVEL: 'silent' }));
  const port = await freePort();
  const api = startProcess('api', 'apps/api/src/main.ts', { ...env, API_PORT: String(port) });
  try {
    const account = await setup.accounts.create(simulatorAccountRequest('aws', 0, 'http://127.0.0.1:9'));
    const url = `http://127.0.0.1:${port}`;
    await waitForHttp(`${url}/readyz`, api);
    const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
    const body = JSON.stringify({ provider: 'aws', account: account.name, repositoryName: 'bench/images', imageId: { imageTag: 'latest' } });
    const first = await fetch(`${url}/v1/scans`, { method: 'POST', headers, body });
    if (first.status !== 202) throw new Error(`POST /v1/scans: ${first.status} ${await first.text()}`);
    const { id } = (await first.json()) as { id: string };
    // Warm-up: JIT, pools and prepared statements, not timed.
    const warm = await autocannon({ url: `${url}/v1/scans`, method: 'POST', headers, body, connections: CONNECTIONS, duration: 2 });

    const loadBefore = load();
    const post = await phase(api.child.pid!, { url: `${url}/v1/scans`, method: 'POST', headers, body });
    const get = await phase(api.child.pid!, { url: `${url}/v1/scans/${id}`, headers: { authorization: headers.authorization } });
    const loadAfter = load();
    // Every 202 is a row (durability: the API answers after the insert commits).
    // xmin is the inserting transaction: rows per transaction is the group commit's batch size.
    const [{ n, tx } = { n: '0', tx: '1' }] = await setup.sql.rows<{ n: string; tx: string }>(`SELECT count(*) AS n, count(DISTINCT xmin::text) AS tx FROM "Scan"`);
    return {
      'api: POST /v1/scans': figure(post, { rate: 3_000, p99: 50 }),
      'api: GET /v1/scans/:id': figure(get, { rate: 5_000 }),
      'api: scans in Postgres after the run': `${Number(n).toLocaleString('en')} in ${Number(tx).toLocaleString('en')} transactions (${(Number(n) / Number(tx)).toFixed(1)} per INSERT)`,
      'api: setup': `${CONNECTIONS} connections, ${SECONDS} s per phase, autocannon in the bench process; warm-up ${warm['2xx']} 2xx + ${warm.non2xx} non-2xx; load average (1/5/15 min) ${loadBefore} before, ${loadAfter} after`,
    };
  } finally {
    await api.stop();
    await setup.close();
    await store.drop();
  }
}

await runWhenMain(import.meta.url, 'API under load', benchApi);
