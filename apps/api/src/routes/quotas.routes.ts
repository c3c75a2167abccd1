import { quotasQuerySchema, quotasResponseSchema } from '@scanq/core';
import type { ScanqRuntime } from '@scanq/scans';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';

/** /v1/quotas: the live quota view per account. */
export const quotaRoutes: FastifyPluginAsyncZod<{ runtime: ScanqRuntime }> = async (app, { runtime }) => {
  app.get(
    '/quotas',
    {
      schema: {
        tags: ['quotas'],
        summary: 'Each account’s quota right now',
        description: 'Alibaba: task slots in use of 10 and when leases lapse; AWS: images inside their 24 h window and when each opens; Tencent: requests this second per API of 20; Huawei: batch size.',
        querystring: quotasQuerySchema,
        response: { 200: quotasResponseSchema },
      },
    },
    async (request) => ({ items: await runtime.quotas.all(request.query.provider) }),
  );
};
