import { bulkScanSchema, createBulkScanSchema, errorResponseSchema, idempotencyKeySchema, pageSchema, scanIdParamsSchema } from '@scanq/core';
import type { ScanqRuntime } from '@scanq/scans';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFoundBody } from '../errors.js';
import { toBulkScanView } from '../views.js';

const notFound = (id: string) => notFoundBody('bulk scan', id);
const listQuery = z
  .object({
    limit: z.coerce.number().int().min(1, 'must be 1–200').max(200, 'must be 1–200').default(50),
    cursor: z.string().uuid('must be a cursor from a previous page').optional(),
    scheduleId: z.string().uuid('must be a schedule id (UUID)').optional(),
  })
  .strict();

/** /v1/bulk-scans: select many images at once; planning runs as a job. */
export const bulkScanRoutes: FastifyPluginAsyncZod<{ runtime: ScanqRuntime }> = async (app, { runtime }) => {
  const view = async (id: string) => {
    const bulk = await runtime.bulkScans.get(id);
    return bulk ? toBulkScanView(bulk, await runtime.bulkScans.totals(bulk)) : null;
  };

  app.post(
    '/bulk-scans',
    {
      schema: {
        tags: ['bulk-scans'],
        summary: 'Scan a selection of images (accounts, providers, regions, registries, namespaces, repositories, tag patterns)',
        description: 'Returns 202 at once (200 with the first bulk scan for a repeated `Idempotency-Key`); a planning job lists each cloud’s images and turns them into the fewest provider calls, behind on-demand scans.',
        headers: z.object({ 'idempotency-key': idempotencyKeySchema.optional() }),
        body: createBulkScanSchema,
        response: { 200: bulkScanSchema, 202: bulkScanSchema, 400: errorResponseSchema, 409: errorResponseSchema, 422: errorResponseSchema },
      },
    },
    async (request, reply) => {
      // A repeated Idempotency-Key returns the first bulk scan (200); a changed repeat is a 409.
      const { bulk, created } = await runtime.bulk.create(request.body, {}, request.headers['idempotency-key']);
      return reply.code(created ? 202 : 200).send((await view(bulk.id))!);
    },
  );

  app.get(
    '/bulk-scans',
    { schema: { tags: ['bulk-scans'], summary: 'Bulk scans, newest first', querystring: listQuery, response: { 200: pageSchema(bulkScanSchema), 400: errorResponseSchema } } },
    async (request) => {
      const { limit, cursor, scheduleId } = request.query;
      const rows = await runtime.bulkScans.list(limit, cursor, scheduleId);
      const items = await Promise.all(rows.map(async (b) => toBulkScanView(b, await runtime.bulkScans.totals(b))));
      return { items, nextCursor: rows.length === limit ? rows[rows.length - 1]!.id : null };
    },
  );

  app.get(
    '/bulk-scans/:id',
    { schema: { tags: ['bulk-scans'], summary: 'A bulk scan: totals by state and provider, ETA', params: scanIdParamsSchema, response: { 200: bulkScanSchema, 400: errorResponseSchema, 404: errorResponseSchema } } },
    async (request, reply) => (await view(request.params.id)) ?? reply.code(404).send(notFound(request.params.id)),
  );

  app.post(
    '/bulk-scans/:id/cancel',
    {
      schema: {
        tags: ['bulk-scans'],
        summary: 'Cancel a bulk scan',
        description: 'Queued work is removed and ends `cancelled`; scans already running at the cloud end in their real result.',
        params: scanIdParamsSchema,
        response: { 200: bulkScanSchema, 400: errorResponseSchema, 404: errorResponseSchema },
      },
    },
    async (request, reply) => {
      const bulk = await runtime.bulk.cancel(request.params.id);
      if (!bulk) return reply.code(404).send(notFound(request.params.id));
      return (await view(bulk.id))!;
    },
  );
};
