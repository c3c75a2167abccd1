import { jobIds, SIMULATOR_ACCOUNTS } from '@scanq/core';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, createTestEnv, type TestEnv } from '../support/env.js';
import { type CollectedSpan, OtlpCollector } from '../support/otlp-collector.js';
import { freePort, type ScanqProcess, startProcess, startSimulatorProcess, waitForHttp } from '../support/processes.js';
import { simulatorCalls } from '../support/simulator-calls.js';
import { waitFor } from '../support/wait.js';

const json = { ...AUTH, 'content-type': 'application/json' };
const SERVER = 2;
const CLIENT = 3;
const CONSUMER = 5;

/**
 * Tracing end to end: the API, a worker and the simulator as real processes, exporting OTLP/HTTP
 * JSON to a collector this file runs. One AWS scan whose poll parks a few times (the cloud takes
 * longer than the first polls) must be one trace from the HTTP request through its jobs to the
 * cloud calls (those the simulator counted) and the SQL; with the exporter turned off nothing
 * reaches the collector.
 */
describe('tracing (OpenTelemetry)', () => {
  let env: TestEnv;
  let collector: OtlpCollector;
  let procs: ScanqProcess[] = [];
  let sim = '';
  let api = '';

  beforeAll(async () => {
    env = await createTestEnv('tracing');
    collector = await OtlpCollector.start();
  });
  afterEach(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    procs = [];
  });
  afterAll(async () => {
    await collector?.close();
    await env?.cleanup();
  });

  /** Simulator, API and worker with `otel` on top of the test env; the account registered. */
  async function startStack(otel: Record<string, string>, account: string): Promise<void> {
    const [simPort, apiPort, workerPort] = await Promise.all([freePort(), freePort(), freePort()]);
    sim = `http://127.0.0.1:${simPort}`;
    api = `http://127.0.0.1:${apiPort}`;
    const common = { ...env.env, SIM_PORT: String(simPort), API_PORT: String(apiPort), SIM_AWS_SCAN_MS: '2500', SCANQ_POLL_INITIAL_MS: '300', SCANQ_POLL_MAX_MS: '600', SCANQ_WORKER_HTTP_PORT: String(workerPort) };
    const simulator = startSimulatorProcess('simulator', common);
    const apiProc = startProcess('api', 'apps/api/src/main.ts', { ...common, ...otel });
    const worker = startProcess('worker', 'apps/worker/src/main.ts', { ...common, ...otel });
    procs = [simulator, apiProc, worker];
    await Promise.all([waitForHttp(`${sim}/_sim/health`, simulator), waitForHttp(`${api}/readyz`, apiProc, 90_000), waitForHttp(`http://127.0.0.1:${workerPort}/readyz`, worker, 90_000)]);
    const aws = SIMULATOR_ACCOUNTS.aws[0];
    const res = await fetch(`${api}/v1/accounts`, { method: 'POST', headers: json, body: JSON.stringify({ provider: 'aws', name: account, region: aws.region, endpoint: sim, credentialRef: aws.name, settings: { registryId: aws.registryId } }) });
    expect(res.status).toBe(201);
  }

  /** Submits one AWS scan and waits for Postgres to hold it succeeded; returns its id. */
  async function scanToTheEnd(account: string, tag: string): Promise<string> {
    const res = await fetch(`${api}/v1/scans`, { method: 'POST', headers: json, body: JSON.stringify({ provider: 'aws', account, repositoryName: 'bench/images', imageId: { imageTag: tag } }) });
    expect(res.status).toBe(202);
    const id = ((await res.json()) as { id: string }).id;
    const client = new pg.Client({ connectionString: env.databaseUrl });
    await client.connect();
    try {
      await waitFor(async () => ((await client.query<{ status: string }>(`SELECT status FROM "Scan" WHERE id = $1`, [id])).rows[0]?.status === 'succeeded' ? true : undefined), { timeoutMs: 90_000, intervalMs: 250, what: `scan ${id} to succeed` });
    } finally {
      await client.end();
    }
    return id;
  }

  it('one trace holds the HTTP request, the start and every poll job, the cloud calls the simulator saw and the SQL', async () => {
    await startStack({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '200' }, 'traced-aws');
    const scanId = await scanToTheEnd('traced-aws', 'b-00001');
    const calls = await simulatorCalls(sim);
    const awsCalls = Object.fromEntries(Object.entries(calls.totals).filter(([k]) => k.startsWith('aws:')));
    expect(awsCalls['aws:StartImageScan']).toBe(1);
    // The request's span, by the scan id the API answered with in its route.
    const request = await waitFor(() => collector.spans.find((s) => s.service === 'scanq-api' && s.kind === SERVER && s.name === 'POST /v1/scans'), { timeoutMs: 30_000, what: 'the POST /v1/scans span' });
    const cloudSpans = (spans: CollectedSpan[]) => spans.filter((s) => s.kind === CLIENT && s.attributes['cloud.provider'] === 'aws');
    const tally = (spans: CollectedSpan[]) => {
      const out: Record<string, number> = {};
      for (const s of cloudSpans(spans)) out[`aws:${s.attributes['rpc.method']}`] = (out[`aws:${s.attributes['rpc.method']}`] ?? 0) + 1;
      return Object.fromEntries(Object.entries(out).sort());
    };
    const expected = Object.fromEntries(Object.entries(awsCalls).sort());
    // Spans come in batches: wait until the trace holds a span for every call the simulator counted.
    const spans = await waitFor(() => {
      const t = collector.trace(request.traceId);
      return JSON.stringify(tally(t)) === JSON.stringify(expected) ? t : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200, what: 'a span per cloud call' }).catch(() => collector.trace(request.traceId));
    expect(tally(spans)).toEqual(expected);
    // Every cloud-call span names the operation the simulator saw, and sits in this one trace.
    expect(cloudSpans(collector.spans).every((s) => s.traceId === request.traceId)).toBe(true);
    expect(new Set(cloudSpans(spans).map((s) => s.name))).toEqual(new Set(Object.keys(awsCalls).map((k) => `aws ${k.slice(4)}`)));

    // The jobs: the start and the poll (run more than once: it parked while the cloud scanned), in the worker.
    const runs = spans.filter((s) => s.service === 'scanq-worker' && s.kind === CONSUMER);
    const runsOf = (job: string) => runs.filter((s) => s.attributes['bullmq.job.name'] === job);
    expect(runsOf('scan.start')).toHaveLength(1);
    expect(runsOf('scan.poll').length).toBeGreaterThanOrEqual(2);
    // The poll is one job parked and run again, each run a child of the same producer span.
    expect(new Set(runsOf('scan.start').map((s) => s.attributes['bullmq.job.id']))).toEqual(new Set([jobIds.start(scanId)]));
    expect(new Set(runsOf('scan.poll').map((s) => s.attributes['bullmq.job.id']))).toEqual(new Set([jobIds.poll(scanId)]));

    // SQL from both processes: the API's insert of the scan, the worker's statements for it.
    const sql = spans.filter((s) => s.attributes['db.system.name'] === 'postgresql');
    expect(sql.some((s) => s.service === 'scanq-api' && /INSERT INTO "Scan"/i.test(String(s.attributes['db.query.text'])))).toBe(true);
    expect(sql.filter((s) => s.service === 'scanq-worker').length).toBeGreaterThan(0);
    expect(sql.some((s) => s.service === 'scanq-worker' && /^UPDATE/.test(s.name))).toBe(true);
    // Statement texts are cut at OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT (1024 by default): the
    // completion statement, longer, arrives cut; a transaction's BEGIN has no span, its COMMIT has.
    const texts = sql.map((s) => String(s.attributes['db.query.text']));
    expect(Math.max(...texts.map((t) => t.length))).toBe(1024);
    expect(sql.some((s) => s.name === 'BEGIN')).toBe(false);
    expect(sql.some((s) => s.name === 'COMMIT')).toBe(true);

    // One tree: the request is its root and every other span's parent is in it.
    const ids = new Set(spans.map((s) => s.spanId));
    expect(request.parentSpanId).toBe('');
    expect(spans.filter((s) => s.spanId !== request.spanId && !ids.has(s.parentSpanId))).toEqual([]);
  }, 240_000);

  it('sends nothing when the exporter is turned off (OTEL_TRACES_EXPORTER=none), endpoint set or not', async () => {
    const before = collector.requests;
    await startStack({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '200' }, 'untraced-aws');
    await scanToTheEnd('untraced-aws', 'b-00002');
    // Well past a batch delay, then the processes exit (which would flush a batch).
    await new Promise((r) => setTimeout(r, 1_000));
    await Promise.all(procs.map((p) => p.stop()));
    procs = [];
    expect(collector.requests).toBe(before);
  }, 240_000);
});
