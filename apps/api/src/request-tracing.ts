import type { FastifyInstance } from 'fastify';

/** Probes and scrapes are no one's request: they would be most of the traces. */
const UNTRACED = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Each request a SERVER span (`@fastify/otel` as a plugin: no module hook, so the bundled build
 * gets it too), named `<METHOD> <route>`; a W3C `traceparent` header from the caller is its
 * parent. Loaded only when tracing is on. Per-hook spans are off: one span per request and one
 * for its handler say where the time went without tripling the spans.
 */
export async function registerRequestTracing(app: FastifyInstance): Promise<void> {
  const { FastifyOtelInstrumentation } = await import('@fastify/otel');
  const otel = new FastifyOtelInstrumentation({
    instrumentHooks: false,
    ignorePaths: ({ url }) => UNTRACED.has(url),
    requestHook: (span, request) => {
      if (request.routeOptions.url) span.updateName(`${request.method} ${request.routeOptions.url}`);
    },
  });
  await app.register(otel.plugin());
}
