import Fastify, { type FastifyInstance } from 'fastify';
import { CallCounter } from './call-counter.js';
import { SimClock } from './clock.js';
import type { SimContext } from './context.js';
import { FaultInjector, type FaultKind } from './faults.js';
import type { CloudFrontEnd, SimRequest, SimResponse } from './frontend.js';

export interface SimulatorOptions {
  host: string;
  port: number;
  seed: string;
  frontEnds: CloudFrontEnd[];
  logLevel?: string;
}

export interface RunningSimulator {
  app: FastifyInstance;
  url: string;
  ctx: SimContext;
  close(): Promise<void>;
}

const FAULT_KINDS: readonly FaultKind[] = ['server_error', 'throttle', 'timeout', 'disconnect'];

/**
 * One HTTP server speaking every cloud's wire protocol. Cloud traffic is dispatched to the
 * first front end whose `matches` accepts it; `/_sim/*` is the control plane for tests and
 * benchmarks (call counts, faults, clock, reset, runtime config).
 */
export async function startSimulator(options: SimulatorOptions): Promise<RunningSimulator> {
  const ctx: SimContext = {
    clock: new SimClock(),
    calls: new CallCounter(),
    faults: new FaultInjector(),
    seed: options.seed,
  };
  for (const fe of options.frontEnds) fe.reset(ctx);

  const app = Fastify({ logger: { level: options.logLevel ?? 'warn' }, bodyLimit: 64 * 1024 * 1024 });
  // Keep every body raw: signatures are computed over the exact bytes the SDK sent.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.get('/_sim/health', async () => ({ ok: true, clouds: options.frontEnds.map((f) => f.cloud) }));
  app.get('/_sim/calls', async () => ctx.calls.snapshot());
  app.get('/_sim/clock', async () => ({ now: ctx.clock.now(), offsetMs: ctx.clock.offset }));
  app.post('/_sim/clock', async (req, reply) => {
    const body = parseJsonBody(req.body);
    const advanceMs = Number(body.advanceMs);
    if (!Number.isFinite(advanceMs)) return reply.code(400).send({ error: 'advanceMs must be a number' });
    ctx.clock.advance(advanceMs);
    return { now: ctx.clock.now(), offsetMs: ctx.clock.offset };
  });
  app.post('/_sim/faults', async (req, reply) => {
    const body = parseJsonBody(req.body);
    const kind = body.kind as FaultKind;
    if (typeof body.cloud !== 'string' || typeof body.api !== 'string' || !FAULT_KINDS.includes(kind)) {
      return reply.code(400).send({ error: `cloud, api and kind (${FAULT_KINDS.join('|')}) are required` });
    }
    ctx.faults.add({ cloud: body.cloud, api: body.api, kind, count: Number(body.count ?? 1) });
    return { faults: ctx.faults.list() };
  });
  app.post('/_sim/reset', async () => {
    ctx.calls.reset();
    ctx.faults.reset();
    ctx.clock.reset();
    for (const fe of options.frontEnds) fe.reset(ctx);
    return { ok: true };
  });
  app.get<{ Params: { cloud: string } }>('/_sim/state/:cloud', async (req, reply) => {
    const fe = options.frontEnds.find((f) => f.cloud === req.params.cloud);
    if (!fe) return reply.code(404).send({ error: `unknown cloud ${req.params.cloud}` });
    return fe.state?.() ?? {};
  });
  app.post<{ Params: { cloud: string } }>('/_sim/config/:cloud', async (req, reply) => {
    const fe = options.frontEnds.find((f) => f.cloud === req.params.cloud);
    if (!fe?.configure) return reply.code(404).send({ error: `no runtime config for ${req.params.cloud}` });
    try {
      fe.configure(parseJsonBody(req.body));
    } catch (err) {
      return reply.code(400).send({ error: (err as Error).message });
    }
    return { ok: true };
  });

  app.all('/*', async (request, reply) => {
    const url = request.raw.url ?? '/';
    const q = url.indexOf('?');
    const simReq: SimRequest = {
      method: request.method,
      path: q === -1 ? url : url.slice(0, q),
      rawQuery: q === -1 ? '' : url.slice(q + 1),
      query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)),
      headers: request.headers,
      rawBody: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
    };
    const fe = options.frontEnds.find((f) => f.matches(simReq));
    if (!fe) return reply.code(404).send({ error: 'no simulated cloud API matches this request' });

    const api = fe.apiName(simReq);
    ctx.calls.record(fe.cloud, api);
    const fault = ctx.faults.take(fe.cloud, api);
    let res: SimResponse;
    if (fault === 'disconnect') {
      ctx.calls.recordOutcome(fe.cloud, api, 'fault:disconnect');
      request.raw.socket.destroy();
      return reply;
    } else if (fault === 'timeout') {
      ctx.calls.recordOutcome(fe.cloud, api, 'fault:timeout');
      // Hang until the client gives up (its own timeout) or 5 minutes pass.
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 300_000);
        request.raw.socket.once('close', () => {
          clearTimeout(t);
          resolve();
        });
      });
      return reply;
    } else if (fault) {
      res = fe.faultResponse(fault, api);
      res.outcome ??= `fault:${fault}`;
    } else {
      res = await fe.handle(simReq, ctx);
    }
    ctx.calls.recordOutcome(fe.cloud, api, res.outcome ?? (res.status < 300 ? 'ok' : String(res.status)));
    reply.code(res.status);
    for (const [k, v] of Object.entries(res.headers ?? {})) reply.header(k, v);
    if (res.body === undefined) return reply.send();
    if (typeof res.body === 'string' || Buffer.isBuffer(res.body)) return reply.send(res.body);
    if (!res.headers?.['content-type']) reply.header('content-type', 'application/json');
    return reply.send(JSON.stringify(res.body));
  });

  const address = await app.listen({ host: options.host, port: options.port });
  return {
    app,
    url: address.replace('[::1]', '127.0.0.1'),
    ctx,
    close: () => app.close(),
  };
}

function parseJsonBody(body: unknown): Record<string, unknown> {
  if (Buffer.isBuffer(body) && body.length > 0) return JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  return {};
}
