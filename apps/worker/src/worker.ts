import { JobName, QueueName, type ScanqConfig } from '@scanq/core';
import { createRedis } from '@scanq/queue';
import { createLogger, createRuntime, type ScanqRuntime, startTracing } from '@scanq/scans';
import { type JobHandlers, WorkerHost } from './worker-host.js';
import { WorkerHttp } from './worker-http.js';
import { WorkerMetrics } from './worker-metrics.js';

export interface RunningWorker {
  runtime: ScanqRuntime;
  /** The health/metrics server (config.worker.http.port 0: none) and the port it listens on. */
  http?: WorkerHttp;
  httpPort?: number;
  /** SIGTERM arrived: /readyz goes 503 at once; close() drains after. */
  startDraining(): void;
  close(): Promise<void>;
}

/** Wires the job handlers to the services and starts serving the configured queues. */
export async function startWorker(config: ScanqConfig): Promise<RunningWorker> {
  const log = createLogger(config, 'worker');
  const shutdown = new AbortController();
  const all = Object.values(QueueName);
  const queues = config.worker.queues.length ? all.filter((q) => config.worker.queues.includes(q)) : all;
  let metrics: WorkerMetrics | undefined;
  const tracing = await startTracing(config.tracing, 'scanq-worker');
  const runtime = createRuntime(config, log, { shutdownSignal: shutdown.signal, onQuotaWait: (provider, code) => metrics?.quotaWait(provider, code), tracing });
  metrics = new WorkerMetrics(runtime.callStats, queues);
  const handlers: JobHandlers = {
    [JobName.ScanStart]: (job, token) => runtime.lifecycle.handleStart(job, token),
    [JobName.ScanPoll]: (job, token) => runtime.lifecycle.handlePoll(job, token),
    // Reconcile jobs now come only from older deployments' schedulers (removed below), or by hand.
    [JobName.Reconcile]: async () => {
      await runtime.reconciler.reconcile();
    },
    [JobName.BulkPlan]: (job) => runtime.bulk.plan(job.data.bulkScanId, { finalAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1) }),
    [JobName.BulkComplete]: (job) => runtime.bulk.complete(job.data.bulkScanId),
    [JobName.ScheduleTick]: (job) => runtime.schedules.tick(job),
    [JobName.WebhookDeliver]: (job) => runtime.webhooks.deliver(job),
    [JobName.ScanRequest]: (job, token) => runtime.intake.handleScan(job, token),
    [JobName.BulkRequest]: (job, token) => runtime.intake.handleBulk(job, token),
  };
  // Workers block on Redis: a dedicated connection keeps producers (and quota scripts) snappy.
  const workerConnection = createRedis(config.redis);
  const host = new WorkerHost(handlers, { connection: workerConnection, keyspace: runtime.keyspace, concurrency: config.worker.concurrency, lockMs: config.worker.lockMs, stalledCheckMs: config.worker.stalledCheckMs, queues, log, observer: metrics, ...(tracing.telemetry ? { telemetry: tracing.telemetry } : {}) });
  // Up before the queues: a pod whose Redis is not there yet is live (and says unready: no queue consuming).
  const { http: httpConfig } = config.worker;
  const http = httpConfig.port
    ? new WorkerHttp({ sql: runtime.sql, redis: runtime.redis, workerRedis: workerConnection, keyspace: runtime.keyspace, probeTimeoutMs: httpConfig.probeTimeoutMs, stallMs: config.worker.lockMs / 2, consumers: () => host.states(), metrics })
    : undefined;
  const httpPort = await http?.listen(httpConfig.host, httpConfig.port);
  host.start();
  await host.waitUntilReady();
  // Schedules live in Postgres and Redis may lose everything: every maintenance worker runs the
  // upkeep from its own timer (one at a time under a lease), never only from a Redis-held schedule.
  const maintenance = queues.includes(QueueName.maintenance) ? runtime.maintenance.start() : undefined;
  if (maintenance) {
    // The Redis-held reconcile schedule of earlier versions is replaced by the timer: drop it.
    await runtime.queues.queue(QueueName.maintenance).removeJobScheduler('reconcile').catch(() => undefined);
    await maintenance.tick().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'first maintenance pass failed'));
  }
  log.info({ queues, concurrency: config.worker.concurrency, ...(http ? { http: `${httpConfig.host}:${httpPort}` } : {}) }, 'worker started');
  return {
    runtime,
    ...(http ? { http, httpPort } : {}),
    startDraining: () => http?.startDraining(),
    async close() {
      http?.startDraining();
      await maintenance?.stop();
      // Stop taking jobs first, then cut the cloud calls in flight: their jobs go back to the
      // queue (WorkerHost) instead of holding this process until a cloud answers.
      const closing = host.close();
      shutdown.abort();
      await closing;
      await workerConnection.quit().catch(() => workerConnection.disconnect());
      await runtime.close();
      await http?.close();
    },
  };
}
