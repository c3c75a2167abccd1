import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { CallCounter } from './call-counter.js';
import { SimClock } from './clock.js';
import type { SimContext } from './context.js';
import { FaultInjector, FaultRuleError, parseFaultRules } from './faults.js';
import type { CloudFrontEnd, SimRequest, SimResponse } from './frontend.js';
import { CannedReplies, parseReplyRules, ReplyRuleError } from './replies.js';

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

/** A hung call (`timeout`, `hang_response`) is dropped unanswered after this long, if the client has not given up. */
const HANG_MAX_MS = 300_000;

/**
 * One HTTP server speaking every cloud's wire protocol. Cloud traffic is dispatched to the
 * first front end whose `matches` accepts it; `/_sim/*` is the control plane for tests and
 * benchmarks (call counts, faults, clock, reset, runtime config).
 */
export async function startSimulator(options: SimulatorOptions): Promise<RunningSimulator> {
  const ctx: SimContext = {
    clock: new SimClock(),
    calls: new CallCounter(),
    faults: new FaultInjector(options.seed),
    replies: new CannedReplies(),
    seed: options.seed,
  };
  // Connections held by hung calls: dropped on close, which would otherwise wait for them.
  const hung = new Set<Socket>();
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
  app.get('/_sim/calls/timestamps', async (req, reply) => {
    const query = req.query as Record<string, string | undefined>;
    const since = query.since === undefined ? undefined : Number(query.since);
    if (!query.key) return reply.code(400).send(badRequest([{ field: 'query.key', rule: 'required', message: 'is required: <cloud>:<api>' }]));
    if (since !== undefined && !Number.isFinite(since)) return reply.code(400).send(badRequest([{ field: 'query.since', rule: 'type', message: 'must be epoch milliseconds' }]));
    return { key: query.key, timestamps: ctx.calls.timestamps(query.key, since) };
  });
  app.get('/_sim/faults', async () => ({ faults: ctx.faults.list() }));
  app.post('/_sim/faults', async (req, reply) =>
    addRules(req, reply, (body) => {
      const added = parseFaultRules(body, options.frontEnds.map((f) => f.cloud)).map((spec) => ctx.faults.add(spec));
      return { added, faults: ctx.faults.list() };
    }),
  );
  app.get('/_sim/replies', async () => ({ replies: ctx.replies.list() }));
  app.post('/_sim/replies', async (req, reply) =>
    addRules(req, reply, (body) => ({ added: parseReplyRules(body, options.frontEnds.map((f) => f.cloud)).map((spec) => ctx.replies.add(spec)) })),
  );
  app.delete('/_sim/replies', async () => {
    ctx.replies.reset();
    return { replies: [] };
  });
  app.delete('/_sim/faults', async () => {
    ctx.faults.reset();
    return { faults: ctx.faults.list() };
  });
  app.post('/_sim/reset', async () => {
    ctx.calls.reset();
    ctx.faults.reset();
    ctx.replies.reset();
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
    const canned = ctx.replies.take(fe.cloud, api, { query: simReq.rawQuery, body: simReq.rawBody.toString('utf8') });
    if (canned) {
      ctx.calls.recordOutcome(fe.cloud, api, 'canned');
      reply.code(canned.status);
      for (const [k, v] of Object.entries(canned.headers)) reply.header(k, v);
      return reply.send(canned.body);
    }
    const fault = ctx.faults.take(fe.cloud, api);
    if (fault) ctx.calls.recordFault(fe.cloud, api, fault);
    let res: SimResponse;
    switch (fault) {
      case 'disconnect':
        ctx.calls.recordOutcome(fe.cloud, api, 'fault:disconnect');
        request.raw.socket.destroy();
        return reply;
      case 'timeout':
        ctx.calls.recordOutcome(fe.cloud, api, 'fault:timeout');
        return hang(request, reply);
      case 'drop_response':
      case 'hang_response':
        // The call takes effect (a task may be created); only its answer is lost.
        await fe.handle(simReq, ctx);
        ctx.calls.recordOutcome(fe.cloud, api, `fault:${fault}`);
        if (fault === 'hang_response') return hang(request, reply);
        request.raw.socket.destroy();
        return reply;
      case 'server_error':
      case 'throttle':
        res = fe.faultResponse(fault, api);
        res.outcome ??= `fault:${fault}`;
        break;
      default:
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
    close: () => {
      for (const socket of hung) socket.destroy();
      return app.close();
    },
  };

  /** Holds the call unanswered until the client gives up or HANG_MAX_MS pass, then drops it. */
  async function hang(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const socket = request.raw.socket;
    if (socket.destroyed) return reply;
    hung.add(socket);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, HANG_MAX_MS);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    hung.delete(socket);
    socket.destroy();
    return reply;
  }
}

/** A 400 in the shape scanq's API uses: what is wrong, and each field with the rule it broke. */
function badRequest(issues: { field: string; rule: string; message: string }[]) {
  return { error: 'invalid_request', message: issues.map((i) => `${i.field}: ${i.message}`).join('; '), issues };
}

/**
 * A POST of rules (fault rules, canned replies): the body parsed as JSON (empty: `{}`), then
 * `add`; bad JSON and refused rules answer 400 naming field and rule.
 */
async function addRules(req: FastifyRequest, reply: FastifyReply, add: (body: Record<string, unknown>) => unknown) {
  let body: Record<string, unknown>;
  try {
    // A literal `null` body counts as empty, as before.
    body = (parseJsonBody(req.body) as Record<string, unknown> | null) ?? {};
  } catch {
    return reply.code(400).send(badRequest([{ field: 'body', rule: 'json', message: 'is not valid JSON' }]));
  }
  try {
    return add(body);
  } catch (err) {
    if (err instanceof FaultRuleError || err instanceof ReplyRuleError) return reply.code(400).send(badRequest(err.issues));
    throw err;
  }
}

function parseJsonBody(body: unknown): Record<string, unknown> {
  if (Buffer.isBuffer(body) && body.length > 0) return JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  return {};
}
