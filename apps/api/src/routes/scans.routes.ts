import {
  createScanRequestSchema,
  errorResponseSchema,
  findingSchema,
  idempotencyKeySchema,
  listFindingsQuerySchema,
  listScansQuerySchema,
  pageSchema,
  SCAN_LIST_IMAGES,
  scanIdParamsSchema,
  scanSchema,
} from '@scanq/core';
import type { ScanqRuntime } from '@scanq/scans';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFoundBody } from '../errors.js';
import { toFindingView, toScanView } from '../views.js';

const idempotencyHeaders = z.object({
  'idempotency-key': idempotencyKeySchema.optional(),
});

const notFound = (id: string) => notFoundBody('scan', id);

/** /v1/scans: submit, read, list, findings. */
/** Largest Postgres int8. */
const PG_BIGINT_MAX = 2n ** 63n - 1n;

export const scanRoutes: FastifyPluginAsyncZod<{ runtime: ScanqRuntime }> = async (app, { runtime }) => {
  app.post(
    '/scans',
    {
      schema: {
        tags: ['scans'],
        summary: 'Request a scan',
        description: 'Validates, records the scan in Postgres and queues it. A repeated `Idempotency-Key` returns the first scan.',
        headers: idempotencyHeaders,
        body: createScanRequestSchema,
        response: { 200: scanSchema, 202: scanSchema, 400: errorResponseSchema, 409: errorResponseSchema, 422: errorResponseSchema },
      },
    },
    async (request, reply) => {
      // A SubmitError (unknown account, reused key) is answered by the error handler.
      const { scan, created } = await runtime.submit.submit(request.body, request.headers['idempotency-key']);
      return reply.code(created ? 202 : 200).send(toScanView(scan));
    },
  );

  app.post(
    '/scans/:id/cancel',
    {
      schema: {
        tags: ['scans'],
        summary: 'Cancel a scan',
        description: 'A scan not yet started at the cloud (queued, waiting for quota) is removed from the queue and ends `cancelled`; a running cloud scan, or one whose create call may have reached the cloud (its answer lost, the retry pending), is left to finish and ends in its real result.',
        params: scanIdParamsSchema,
        response: { 200: scanSchema, 400: errorResponseSchema, 404: errorResponseSchema },
      },
    },
    async (request, reply) => {
      const scan = await runtime.submit.cancel(request.params.id);
      if (!scan) return reply.code(404).send(notFound(request.params.id));
      return toScanView(scan);
    },
  );

  app.get(
    '/scans/:id',
    { schema: { tags: ['scans'], summary: 'A scan: status, progress, per-image results, severity counts', params: scanIdParamsSchema, response: { 200: scanSchema, 400: errorResponseSchema, 404: errorResponseSchema } } },
    async (request, reply) => {
      const scan = await runtime.scans.get(request.params.id);
      if (!scan) return reply.code(404).send(notFound(request.params.id));
      return toScanView(scan);
    },
  );

  app.get(
    '/scans/:id/findings',
    {
      schema: {
        tags: ['scans'],
        summary: "A scan's findings, cursor-paged, optionally filtered by severity (comma list)",
        params: scanIdParamsSchema,
        querystring: listFindingsQuerySchema,
        response: { 200: pageSchema(findingSchema), 400: errorResponseSchema, 404: errorResponseSchema },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { severity, limit, cursor } = request.query;
      let after: bigint | undefined;
      if (cursor !== undefined) {
        // A finding id is a Postgres bigint: a larger number was never a cursor (and would overflow int8).
        if (!/^\d{1,19}$/.test(cursor) || BigInt(cursor) > PG_BIGINT_MAX) return reply.code(400).send({ error: 'validation_error', message: 'querystring.cursor: is not a cursor from a previous page', issues: [{ field: 'querystring.cursor', rule: 'cursor', message: 'is not a cursor from a previous page' }] });
        after = BigInt(cursor);
      }
      if (!(await runtime.scans.exists(id))) return reply.code(404).send(notFound(id));
      const rows = await runtime.scans.findings(id, { severities: severity, limit: limit + 1, cursor: after });
      const items = rows.slice(0, limit);
      return { items: items.map(toFindingView), nextCursor: rows.length > limit ? (items.at(-1)?.id.toString() ?? null) : null };
    },
  );

  app.get(
    '/scans',
    { schema: { tags: ['scans'], summary: 'List scans, newest first, filtered by status/provider, cursor-paged; each with its first 100 images (imageCount: all)', querystring: listScansQuerySchema, response: { 200: pageSchema(scanSchema), 400: errorResponseSchema } } },
    async (request, reply) => {
      const { status, provider, limit, cursor } = request.query;
      if (cursor !== undefined && !z.string().uuid().safeParse(cursor).success) {
        return reply.code(400).send({ error: 'validation_error', message: 'querystring.cursor: is not a cursor from a previous page', issues: [{ field: 'querystring.cursor', rule: 'cursor', message: 'is not a cursor from a previous page' }] });
      }
      const rows = await runtime.scans.list({ status, provider }, limit + 1, cursor, SCAN_LIST_IMAGES);
      const items = rows.slice(0, limit);
      return { items: items.map((scan) => toScanView(scan, scan.imageTotals)), nextCursor: rows.length > limit ? (items.at(-1)?.id ?? null) : null };
    },
  );
};
