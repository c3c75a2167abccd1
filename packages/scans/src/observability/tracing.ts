import type { TracingConfig } from '@scanq/core';
import type { Context, Link, SpanKind, Attributes } from '@opentelemetry/api';
import type { Sampler, SamplingResult } from '@opentelemetry/sdk-trace';
import type { Telemetry } from 'bullmq';

/**
 * OpenTelemetry tracing of one process (API, worker): the one place the SDK starts.
 *
 * Instrumentation is explicit, never require/import hooks: production runs esbuild bundles,
 * and hooks patch only modules loaded after them through node's loader. What makes the spans:
 * - the API's HTTP server span: `@fastify/otel` registered as a plugin (apps/api/src/app.ts);
 * - jobs: `bullmq-otel` as the `telemetry` option of every Queue and Worker. A job added while
 *   a span is active carries that span's context in its options, and each run of the job is a
 *   child of it: the request → start job → poll job chain, and a parked poll (moveToDelayed
 *   keeps the job and its options) continues the same trace on every later run;
 * - cloud calls: `observeCall` in @scanq/providers, the one place every adapter's calls pass;
 * - SQL: the pg pool Prisma and the hot path share (@scanq/db tracePool).
 * Those use `@opentelemetry/api` alone, whose tracer is a no-op until a provider is registered:
 * with tracing off the SDK is never imported.
 */
export interface Tracing {
  /** BullMQ's `telemetry` option; undefined when tracing is off. */
  telemetry?: Telemetry;
  /** Sends what is still buffered, then stops (call at shutdown). */
  shutdown(): Promise<void>;
}

export const TRACING_OFF: Tracing = { shutdown: async () => undefined };

/**
 * BullMQ's idle housekeeping (blocking fetches that found nothing, stalled-job checks) would be a
 * trace of its own every few seconds per queue: dropped when it has no parent. A fetch that found
 * a job has the job's context as parent and stays.
 */
const HOUSEKEEPING = /^(getNextJob|moveStalledJobsToWait|startStalledCheckTimer|rateLimit|close|pause|resume) /;
const DROP: SamplingResult = { decision: 0 /* SamplingDecision.NOT_RECORD */ };

class QuietHousekeepingSampler implements Sampler {
  constructor(
    private readonly inner: Sampler,
    private readonly isRoot: (ctx: Context) => boolean,
  ) {}
  shouldSample(ctx: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
    if (HOUSEKEEPING.test(name) && this.isRoot(ctx)) return DROP;
    return this.inner.shouldSample(ctx, traceId, name, kind, attributes, links);
  }
  toString() {
    return `QuietHousekeeping{${this.inner.toString()}}`;
  }
}

/** Starts the SDK when `config` asks for tracing; with null nothing is loaded. */
export async function startTracing(config: TracingConfig | null, defaultServiceName: string): Promise<Tracing> {
  if (!config) return TRACING_OFF;
  const [{ NodeSDK }, sdkTrace, { BullMQOtel }, api] = await Promise.all([import('@opentelemetry/sdk-node'), import('@opentelemetry/sdk-trace'), import('bullmq-otel'), import('@opentelemetry/api')]);
  const { OTLPTraceExporter } = config.protocol === 'http/json' ? await import('@opentelemetry/exporter-trace-otlp-http') : await import('@opentelemetry/exporter-trace-otlp-proto');
  const exporter = config.exporter === 'console' ? new sdkTrace.ConsoleSpanExporter() : new OTLPTraceExporter({ url: config.endpoint, headers: config.headers });
  const ratio = new sdkTrace.TraceIdRatioBasedSampler(config.sampler.ratio);
  const base: Sampler = {
    always_on: new sdkTrace.AlwaysOnSampler(),
    always_off: new sdkTrace.AlwaysOffSampler(),
    traceidratio: ratio,
    parentbased_always_on: new sdkTrace.ParentBasedSampler({ root: new sdkTrace.AlwaysOnSampler() }),
    parentbased_always_off: new sdkTrace.ParentBasedSampler({ root: new sdkTrace.AlwaysOffSampler() }),
    parentbased_traceidratio: new sdkTrace.ParentBasedSampler({ root: ratio }),
  }[config.sampler.name];
  const sdk = new NodeSDK({
    serviceName: config.serviceName ?? defaultServiceName,
    spanProcessors: [new sdkTrace.BatchSpanProcessor({ exporter, scheduledDelayMillis: config.batchDelayMs })],
    sampler: new QuietHousekeepingSampler(base, (ctx) => !api.trace.getSpanContext(ctx)),
    spanLimits: { attributeValueLengthLimit: config.attributeValueLengthLimit },
    instrumentations: [],
    // Traces only: no metric reader or log exporter from the environment's defaults.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  return { telemetry: new BullMQOtel('scanq'), shutdown: () => sdk.shutdown() };
}
