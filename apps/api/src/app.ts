import { randomBytes } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { errorResponseSchema, livenessSchema, readinessSchema } from '@scanq/core';
import type { ScanqRuntime } from '@scanq/scans';
import { censorLogValue, probeDependencies, REDACT_PATHS } from '@scanq/scans';
import Fastify, { type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, validatorCompiler } from 'fastify-type-provider-zod';
import { BULL_BOARD_PATH, registerBullBoard } from './admin.js';
import { apiKeyAuth } from './api-key-auth.js';
import { BODY_LIMIT_BYTES, clientErrorHandler, frameworkErrors, MAX_PARAM_LENGTH, RETRY_AFTER_SECONDS, registerErrorHandling } from './errors.js';
import { refuseRawInputIssues, registerJsonBodyParser } from './request-input.js';
import { registerLoadShedding, registerRateLimit } from './load.js';
import { metricsPlugin } from './metrics.js';
import { accountRoutes } from './routes/accounts.routes.js';
import { bulkScanRoutes } from './routes/bulk-scans.routes.js';
import { scanRoutes } from './routes/scans.routes.js';
import { responseSerializerCompiler } from './serializers.js';
import { quotaRoutes } from './routes/quotas.routes.js';
import { scheduleRoutes } from './routes/schedules.routes.js';
import { inventoryRoutes } from './routes/inventory.routes.js';
import { registerUi } from './ui/ui.plugin.js';

export interface ApiOptions {
  /** Bull Board credentials; a random password is generated (and reported) when absent. */
  adminUser: string;
  adminPassword?: string;
  logger?: boolean;
}

export interface BuiltApi {
  app: FastifyInstance;
  adminPassword: string;
}

/** The HTTP API: /v1 (zod-validated), /docs (OpenAPI from the same schemas), /admin/queues, health. */
export async function buildApi(runtime: ScanqRuntime, options: ApiOptions): Promise<BuiltApi> {
  const app = Fastify({
    logger: options.logger === false ? false : { level: runtime.config.logLevel, redact: { paths: REDACT_PATHS, censor: censorLogValue } },
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Refusals made before a route runs (bad %-escapes, over-long ids, malformed HTTP) in the API's error shape too.
    frameworkErrors,
    clientErrorHandler,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(responseSerializerCompiler());
  registerErrorHandling(app);
  registerJsonBodyParser(app);
  // Before any route, so that every route registered below gets both (see load.ts for the exemptions).
  await registerLoadShedding(app, runtime.config.api.pressure);
  const rateLimit = await registerRateLimit(app, runtime);
  const limited = runtime.config.api.rateLimit.max > 0;

  await app.register(swagger, {
    openapi: {
      info: { title: 'scanq API', version: '0.1.0', description: 'Container-image vulnerability scans on four clouds.' },
      tags: [{ name: 'scans' }, { name: 'bulk-scans' }, { name: 'schedules' }, { name: 'quotas' }, { name: 'accounts' }, { name: 'inventory' }, { name: 'health' }],
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'scanq API key (`scanq keys create <name>`), also accepted as `X-API-Key`' } } },
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // Liveness: the process answers, whatever its dependencies do (restarting it would not bring them back).
  app.get('/healthz', { schema: { tags: ['health'], hide: true, response: { 200: livenessSchema } } }, async () => ({ ok: true as const }));
  // Readiness: which dependency is down, never why (anyone may ask).
  app.get('/readyz', { schema: { tags: ['health'], hide: true, response: { 200: readinessSchema, 503: readinessSchema } } }, async (_req, reply) => {
    // Each check bounded; Redis by a write (a PING passes on a read-only replica or a full server).
    const { postgres, redis } = await probeDependencies({ sql: runtime.sql, redis: runtime.redis, keyspace: runtime.keyspace }, runtime.config.api.dependencyTimeoutMs);
    // Shedding load is "not ready" too (load.ts leaves /readyz to answer it in its own shape).
    const overloaded = app.isUnderPressure();
    const ok = postgres === 'ok' && redis === 'ok' && !overloaded;
    if (!ok) reply.code(503).header('retry-after', String(RETRY_AFTER_SECONDS));
    return { ok, status: ok ? ('ok' as const) : ('unavailable' as const), checks: { postgres, redis, ...(overloaded ? { load: 'overloaded' as const } : {}) } };
  });

  // /v1 needs an API key; the hook lives in this encapsulated scope only.
  await app.register(
    async (v1) => {
      v1.addHook('onRequest', apiKeyAuth(runtime, rateLimit));
      v1.addHook('preValidation', refuseRawInputIssues);
      // Every /v1 route may answer 401 (no or a bad key), 400 (input outside its schemas), 503
      // (Postgres or Redis down, or the API overloaded; with Retry-After) and, with a rate limit
      // configured, 429 (with Retry-After): the document says so.
      v1.addHook('onRoute', (route) => {
        const schema = (route.schema ??= {});
        const errors = { 400: errorResponseSchema, 401: errorResponseSchema, 503: errorResponseSchema, ...(limited ? { 429: errorResponseSchema } : {}) };
        schema.response = { ...errors, ...(schema.response as Record<string, unknown> | undefined) };
      });
      await v1.register(scanRoutes, { runtime });
      await v1.register(accountRoutes, { runtime });
      await v1.register(bulkScanRoutes, { runtime });
      await v1.register(scheduleRoutes, { runtime });
      await v1.register(quotaRoutes, { runtime });
      await v1.register(inventoryRoutes, { runtime });
    },
    { prefix: '/v1' },
  );

  const adminPassword = options.adminPassword ?? randomBytes(12).toString('base64url');
  await registerBullBoard(app, runtime, { user: options.adminUser, password: adminPassword });
  await app.register(metricsPlugin, { runtime, credentials: { user: options.adminUser, password: adminPassword } });
  await registerUi(app, runtime, { user: options.adminUser, password: adminPassword });
  return { app, adminPassword };
}

export { BULL_BOARD_PATH };
