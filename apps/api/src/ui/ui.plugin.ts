import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inventoryImageSchema, PROVIDERS } from '@scanq/core';
import type { ScanqRuntime } from '@scanq/scans';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { basicAuth } from '../admin.js';
import { presentedKey } from '../api-key-auth.js';
import { inventoryRoutes, toImageView } from '../routes/inventory.routes.js';

export const UI_PATH = '/ui';

const STATIC_DIR = join(dirname(fileURLToPath(import.meta.url)), 'static');
// Chart.js's self-contained UMD build (no imports to resolve in the browser), from node_modules.
const CHART_JS = join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js');

/** The page's files, read once: name → [content type, body]. No build step, no CDN. */
function loadAssets(): Map<string, [string, Buffer]> {
  const assets = new Map<string, [string, Buffer]>();
  assets.set('dashboard.js', ['text/javascript; charset=utf-8', readFileSync(join(STATIC_DIR, 'dashboard.js'))]);
  assets.set('dashboard.css', ['text/css; charset=utf-8', readFileSync(join(STATIC_DIR, 'dashboard.css'))]);
  assets.set('chart.umd.min.js', ['text/javascript; charset=utf-8', readFileSync(CHART_JS)]);
  return assets;
}

/**
 * Admin Basic auth, or an API key: either opens the page and its read-only data. A refusal
 * challenges for Basic, so a browser asks for the admin user and password.
 */
function adminOrApiKey(runtime: ScanqRuntime, credentials: { user: string; password: string }) {
  const basic = basicAuth(credentials.user, credentials.password);
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (presentedKey(request) !== undefined && (await runtime.apiKeys.identify(presentedKey(request))) !== null) return;
    return basic(request, reply);
  };
}

const troubledScanSchema = z.object({
  id: z.string(),
  provider: z.enum(PROVIDERS),
  account: z.string(),
  status: z.string(),
  reason: z.string().nullable(),
  error: z.string().nullable(),
  problem: z.enum(['failed', 'timed_out', 'stuck']),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
});

/** What only the page asks for; the inventory routes themselves are mounted beside these unchanged. */
const dashboardRoutes: FastifyPluginAsyncZod<{ runtime: ScanqRuntime }> = async (app, { runtime }) => {
  app.get(
    '/images/most-critical',
    { schema: { querystring: z.object({ limit: z.coerce.number().int().min(1).max(100).default(10) }), response: { 200: z.object({ items: z.array(inventoryImageSchema) }) } } },
    async (request) => ({ items: (await runtime.inventory.mostCritical(request.query.limit)).map(toImageView) }),
  );
  app.get(
    '/scans/troubled',
    {
      schema: {
        querystring: z.object({
          hours: z.coerce.number().int().min(1).max(720).default(24),
          stuckMinutes: z.coerce.number().int().min(1).max(10_080).default(60),
          limit: z.coerce.number().int().min(1).max(200).default(50),
        }),
        response: { 200: z.object({ items: z.array(troubledScanSchema) }) },
      },
    },
    async (request) => {
      const { hours, stuckMinutes, limit } = request.query;
      const now = Date.now();
      const rows = await runtime.inventory.troubledScans(new Date(now - hours * 3_600_000), new Date(now - stuckMinutes * 60_000), limit);
      return { items: rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString(), finishedAt: r.finishedAt?.toISOString() ?? null })) };
    },
  );
};

/**
 * The dashboard: /ui (one HTML page, its script, its stylesheet and Chart.js) and /ui/api/*,
 * the inventory routes mounted again behind the page's auth (same handlers, same queries) plus
 * the two tables only the page needs. Hidden from the OpenAPI document.
 */
export async function registerUi(app: FastifyInstance, runtime: ScanqRuntime, credentials: { user: string; password: string }): Promise<void> {
  const assets = loadAssets();
  const html = readFileSync(join(STATIC_DIR, 'index.html'));
  await app.register(
    async (ui) => {
      ui.addHook('onRequest', adminOrApiKey(runtime, credentials));
      ui.addHook('onRoute', (route) => {
        route.schema = { ...route.schema, hide: true };
      });
      ui.addHook('onSend', async (_request, reply, payload) => {
        // The page and its data are per-user views: nothing cached in between, nothing framed.
        reply.header('cache-control', 'no-store').header('x-frame-options', 'DENY');
        return payload;
      });
      ui.get('/', (_request, reply) => reply.type('text/html; charset=utf-8').send(html));
      ui.get<{ Params: { file: string } }>('/assets/:file', (request, reply) => {
        const asset = assets.get(request.params.file);
        if (!asset) return reply.code(404).send({ error: 'not_found', message: `params.file: no asset named ${request.params.file}`, issues: [{ field: 'params.file', rule: 'exists', message: 'no such asset' }] });
        return reply.type(asset[0]).send(asset[1]);
      });
      await ui.register(inventoryRoutes, { runtime, prefix: '/api' });
      await ui.register(dashboardRoutes, { runtime, prefix: '/api' });
    },
    { prefix: UI_PATH },
  );
}
