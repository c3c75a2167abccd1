import { DEPENDENCY_STATES } from '@scanq/core';
import type { SqlClient } from '@scanq/db';
import { probePostgres, probeRedis } from '@scanq/scans';
import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { RedisClient, RedisKeyspace } from '@scanq/queue';
import { z } from 'zod';
import type { QueueConsumerState } from './worker-host.js';
import type { WorkerMetrics } from './worker-metrics.js';

const CONSUMER_STATES = ['running', 'closing', 'stopped'] as const satisfies readonly QueueConsumerState[];
const HEARTBEAT_MS = 500;

export const workerLivenessSchema = z.object({ ok: z.boolean(), eventLoopLagMs: z.number() });
/** /readyz of a worker: which check failed (never why: it answers anyone who reaches the port). */
export const workerReadinessSchema = z.object({
  ok: z.boolean(),
  status: z.enum(['ok', 'unavailable', 'draining']),
  checks: z.object({ postgres: z.enum(DEPENDENCY_STATES), redis: z.enum(DEPENDENCY_STATES), queues: z.enum(['ok', 'down', 'closing']) }),
  queues: z.record(z.string(), z.enum(CONSUMER_STATES)),
});
export type WorkerReadiness = z.infer<typeof workerReadinessSchema>;

export interface WorkerHttpDeps {
  sql: SqlClient;
  /** The runtime's connection (producers, quota scripts) and the one the BullMQ Workers block on. */
  redis: RedisClient;
  workerRedis: RedisClient;
  keyspace: RedisKeyspace;
  probeTimeoutMs: number;
  /** An event loop behind its timers by more than this fails /healthz (BullMQ renews locks every lockMs / 2). */
  stallMs: number;
  consumers(): Record<string, QueueConsumerState>;
  metrics: WorkerMetrics;
}

/**
 * A worker's own small HTTP server, for a pod's probes and Prometheus:
 * - /healthz: the process answers and its event loop keeps time (a heartbeat timer is not
 *   overdue by more than stallMs). A loop stalled outright answers nothing: the probe's timeout.
 * - /readyz: Postgres and Redis usable (each check bounded) and every served queue's Worker
 *   taking jobs; 503 naming what failed. From SIGTERM on it says `draining`.
 * - /metrics: this process's own counts (WorkerMetrics).
 */
export class WorkerHttp {
  private readonly app: FastifyInstance;
  private draining = false;
  private lastBeat = performance.now();
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly deps: WorkerHttpDeps) {
    this.heartbeat = setInterval(() => (this.lastBeat = performance.now()), HEARTBEAT_MS);
    this.heartbeat.unref();
    const app = Fastify({ logger: false });
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    app.get('/healthz', { schema: { response: { 200: workerLivenessSchema, 503: workerLivenessSchema } } }, async (_req, reply) => {
      const lag = Math.max(0, performance.now() - this.lastBeat - HEARTBEAT_MS);
      const ok = lag <= deps.stallMs;
      if (!ok) reply.code(503);
      return { ok, eventLoopLagMs: Math.round(lag) };
    });
    app.get('/readyz', { schema: { response: { 200: workerReadinessSchema, 503: workerReadinessSchema } } }, async (_req, reply) => {
      const body = await this.readiness();
      if (!body.ok) reply.code(503);
      return body;
    });
    app.get('/metrics', async (_req, reply) => reply.type(deps.metrics.registry.contentType).send(await deps.metrics.render()));
    this.app = app;
  }

  async readiness(): Promise<WorkerReadiness> {
    const { deps } = this;
    const draining = this.draining;
    const queues = deps.consumers();
    const [postgres, redis, blocking] = await Promise.all([
      probePostgres(deps.sql, deps.probeTimeoutMs),
      probeRedis(deps.redis, deps.keyspace, deps.probeTimeoutMs),
      // The Workers' own connection: one that lost Redis (or hangs) takes no job whatever the runtime's does.
      probeRedis(deps.workerRedis, deps.keyspace, deps.probeTimeoutMs),
    ]);
    const states = Object.values(queues);
    const consuming = draining || states.includes('closing') ? 'closing' : states.length > 0 && states.every((s) => s === 'running') ? 'ok' : 'down';
    const redisState = redis === 'ok' && blocking === 'ok' ? 'ok' : 'down';
    const ok = !draining && postgres === 'ok' && redisState === 'ok' && consuming === 'ok';
    deps.metrics.setReady(ok);
    return { ok, status: draining ? 'draining' : ok ? 'ok' : 'unavailable', checks: { postgres, redis: redisState, queues: consuming }, queues };
  }

  /** SIGTERM arrived: /readyz answers 503 from now on, while the jobs drain. */
  startDraining(): void {
    this.draining = true;
    this.deps.metrics.setReady(false);
  }

  /** Listens; returns the bound port (the configured one, or the OS's pick for a test). */
  async listen(host: string, port: number): Promise<number> {
    await this.app.listen({ host, port });
    const address = this.app.server.address();
    return typeof address === 'object' && address ? address.port : port;
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.app.close();
  }
}
