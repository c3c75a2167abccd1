import { PROVIDERS, accountSchema, createAccountSchemaFor, errorResponseSchema } from '@scanq/core';
import { Prisma } from '@scanq/db';
import type { ScanqRuntime } from '@scanq/scans';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { toAccountView } from '../views.js';

/** /v1/accounts: the cloud accounts scans run under (credentials by reference only). */
export const accountRoutes: FastifyPluginAsyncZod<{ runtime: ScanqRuntime }> = async (app, { runtime }) => {
  // The endpoint rules that depend on this server's settings (plain http, private addresses) are part of the body schema.
  const createAccountSchema = createAccountSchemaFor(runtime.config.endpoints);
  app.post(
    '/accounts',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Register a cloud account',
        description:
          '`endpoint`: https:// (plain http:// only to a loopback host unless SCANQ_ALLOW_HTTP_ENDPOINTS), no user or password, no query or fragment, no literal private, link-local, CGNAT or unspecified address unless SCANQ_PROVIDER_ALLOW_PRIVATE_ENDPOINTS.',
        body: createAccountSchema,
        response: { 201: accountSchema, 400: errorResponseSchema, 409: errorResponseSchema },
      },
    },
    async (request, reply) => {
      try {
        return reply.code(201).send(toAccountView(await runtime.accounts.create(request.body)));
      } catch (err) {
        if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
          return reply.code(409).send({ error: 'conflict', message: `a ${request.body.provider} account named "${request.body.name}" exists`, issues: [{ field: 'body.name', rule: 'unique', message: 'is taken' }] });
        }
        throw err;
      }
    },
  );
  app.get(
    '/accounts',
    { schema: { tags: ['accounts'], summary: 'List accounts', querystring: z.object({ provider: z.enum(PROVIDERS).optional() }).strict(), response: { 200: z.object({ items: z.array(accountSchema) }) } } },
    async (request) => ({ items: (await runtime.accounts.list(request.query.provider)).map(toAccountView) }),
  );
};
