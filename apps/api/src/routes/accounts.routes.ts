import { ACCOUNT_SETTINGS_SCHEMAS, PROVIDERS, accountSchema, applyAccountsResultSchema, applyAccountsSchemaFor, createAccountSchemaFor, errorResponseSchema, issuesMessage, parseCredentialSource, patchAccountSchemaFor, zodIssueMessage, zodIssueRule } from '@scanq/core';
import { AccountsInUseError, Prisma } from '@scanq/db';
import type { ScanqRuntime } from '@scanq/scans';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFoundBody } from '../errors.js';
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
  app.patch(
    '/accounts/:id',
    {
      schema: {
        tags: ['accounts'],
        summary: "Change an account's endpoint (null: the cloud's own), region, credential set, settings or credentials block (null: static)",
        description: 'The endpoint rules of POST /v1/accounts apply. Settings are checked against the account’s cloud. Workers see the change within seconds (their account cache).',
        params: z.object({ id: z.string().uuid('must be an account id (UUID)') }),
        body: patchAccountSchemaFor(runtime.config.endpoints),
        response: { 200: accountSchema, 400: errorResponseSchema, 404: errorResponseSchema },
      },
    },
    async (request, reply) => {
      const current = await runtime.accounts.get(request.params.id);
      if (!current) return reply.code(404).send(notFoundBody('account', request.params.id));
      if (request.body.settings) {
        const parsed = ACCOUNT_SETTINGS_SCHEMAS[current.provider].safeParse(request.body.settings);
        if (!parsed.success) {
          // Named as POST names them: a setting no adapter reads (a pasted secret) is an unknown field.
          const issues = parsed.error.issues.flatMap((i) => {
            const field = ['body.settings', ...i.path.map(String)].join('.');
            if (i.code === 'unrecognized_keys') return i.keys.map((k) => ({ field: `${field}.${k}`, rule: 'unknown_field', message: 'is not a known field' }));
            const rule = zodIssueRule(i as never);
            return [{ field, rule, message: zodIssueMessage(i, rule) }];
          });
          return reply.code(400).send({ error: 'validation_error', message: issuesMessage(issues), issues });
        }
      }
      if (request.body.credentials) {
        // Like settings: the block is checked against the account's own cloud.
        const parsed = parseCredentialSource(current.provider, request.body.credentials, runtime.config.endpoints);
        if (!parsed.success) {
          const issues = parsed.issues.flatMap((i) => {
            const field = ['body.credentials', ...i.path.map(String)].join('.');
            if (i.code === 'unrecognized_keys') return i.keys.map((k) => ({ field: `${field}.${k}`, rule: 'unknown_field', message: 'is not a known field' }));
            const rule = zodIssueRule(i as never);
            return [{ field, rule, message: zodIssueMessage(i, rule) }];
          });
          return reply.code(400).send({ error: 'validation_error', message: issuesMessage(issues), issues });
        }
      }
      const updated = await runtime.accounts.update(current.id, request.body);
      return updated ? toAccountView(updated) : reply.code(404).send(notFoundBody('account', request.params.id));
    },
  );

  app.put(
    '/accounts',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Apply an accounts file: create, update and (with prune) delete accounts to match the set',
        description:
          'The body is the whole desired set (`scanq accounts apply -f accounts.yaml` sends it): each entry is a POST /v1/accounts body plus `labels`, matched by provider and name. The whole set is checked first (400 names `body.accounts.<index>.<field>` and the rule) and applied in one transaction. `prune`: delete accounts the set does not list (409 `account_has_scans`, nothing changed, when one of them has scans). `dryRun`: report the changes, make none.',
        body: applyAccountsSchemaFor(runtime.config.endpoints),
        response: { 200: applyAccountsResultSchema, 400: errorResponseSchema, 409: errorResponseSchema },
      },
    },
    async (request, reply) => {
      try {
        return await runtime.accountApply.apply(request.body);
      } catch (err) {
        if (err instanceof AccountsInUseError) {
          const issues = err.accounts.map((a) => ({ field: `accounts.${a.provider}/${a.name}`, rule: 'has_scans', message: `has ${a.scans} scan${a.scans === 1 ? '' : 's'}: not pruned (its history stays); list it in the file or delete it yourself` }));
          return reply.code(409).send({ error: 'account_has_scans', message: err.message, issues });
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
