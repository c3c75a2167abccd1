import type { QueueName } from '@scanq/core';
import type { ProviderCallStats } from '@scanq/queue';
import { createProcessRegistry, PrecountedHistogram, showProviderCalls } from '@scanq/scans';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { JobObserver, JobOutcome } from './worker-host.js';

/**
 * This worker process's own metrics (each pod scraped on its own; the API's /metrics shows the
 * whole deployment from Postgres and Redis): the jobs it ran, the ones running now, its cloud
 * calls, its quota waits, and Node's process metrics. Counted in memory as things happen, so a
 * scrape costs no Redis or Postgres call and answers while they are down.
 */
export class WorkerMetrics implements JobObserver {
  readonly registry = createProcessRegistry('scanq_worker_');
  private readonly jobs = new Counter({ name: 'scanq_worker_jobs_total', help: 'Jobs this worker ran, by queue, job name and outcome (completed, failed, parked: delayed for a poll/quota/outage, handed_back at shutdown).', labelNames: ['queue', 'job', 'outcome'], registers: [this.registry] });
  private readonly jobSeconds = new Histogram({ name: 'scanq_worker_job_duration_seconds', help: 'Time one handler run took, by queue and job name.', labelNames: ['queue', 'job'], buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60], registers: [this.registry] });
  private readonly active = new Gauge({ name: 'scanq_worker_active_jobs', help: 'Jobs this worker is running now, by queue.', labelNames: ['queue'], registers: [this.registry] });
  private readonly quotaWaits = new Counter({ name: 'scanq_worker_quota_waits_total', help: 'Scan starts this worker put in quota_wait, by provider and the refusal (TaskSlotsFull, BeyondQuata, …).', labelNames: ['provider', 'code'], registers: [this.registry] });
  // Set from this process's running tallies at each scrape (ProviderCallStats.ownRows).
  private readonly calls = new Counter({ name: 'scanq_worker_provider_calls_total', help: 'Cloud API calls this worker made, by provider, API and outcome (ok or the error code).', labelNames: ['provider', 'api', 'outcome'], registers: [this.registry] });
  private readonly callLatency = new PrecountedHistogram('scanq_worker_provider_call_duration_seconds', 'Latency of the cloud API calls this worker made, by provider and API.').registerOn(this.registry);
  private readonly ready = new Gauge({ name: 'scanq_worker_ready', help: '1 while /readyz would answer 200 (at the last probe).', registers: [this.registry] });

  constructor(
    private readonly callStats: Pick<ProviderCallStats, 'ownRows'>,
    queues: readonly QueueName[],
  ) {
    // Every served queue present from the start, so a rate never sees a gap.
    for (const queue of queues) this.active.set({ queue }, 0);
  }

  started(queue: QueueName): void {
    this.active.inc({ queue });
  }

  finished(queue: QueueName, job: string, outcome: JobOutcome, ms: number): void {
    this.active.dec({ queue });
    this.jobs.inc({ queue, job, outcome });
    this.jobSeconds.observe({ queue, job }, ms / 1000);
  }

  quotaWait(provider: string, code: string): void {
    this.quotaWaits.inc({ provider, code });
  }

  setReady(ready: boolean): void {
    this.ready.set(ready ? 1 : 0);
  }

  async render(): Promise<string> {
    showProviderCalls(this.callStats.ownRows(), this.calls, this.callLatency);
    return this.registry.metrics();
  }
}
