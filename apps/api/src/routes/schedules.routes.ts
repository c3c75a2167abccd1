import { createScheduleSchema, errorResponseSchema, patchScheduleSchema, scanIdParamsSchema, scheduleSchema } from '@scanq/core';
import type { ScanqRuntime } from '@scanq/scans';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFoundBody } from '../errors.js';
import { toScheduleView } from '../views.js';

const notFound = (id: string) => notFoundBody('schedule', id);

/** /v1/schedules: cron + time zone + bulk selector; each tick creates one bulk scan. */
export const scheduleRoutes: FastifyPluginAsyncZod<{ runtime: ScanqRuntime }> = async (app, { runtime }) => {
  app.post(
    '/schedules',
    {
      schema: {
        tags: ['schedules'],
        summary: 'Create a schedule',
        description: '`cron`: 5 fields (minute hour day month weekday) or 6 with seconds first; `timezone`: IANA name.',
        body: createScheduleSchema,
        response: { 201: scheduleSchema, 400: errorResponseSchema, 409: errorResponseSchema, 422: errorResponseSchema },
      },
    },
    async (request, reply) => reply.code(201).send(toScheduleView(await runtime.schedules.create(request.body))),
  );

  app.get('/schedules', { schema: { tags: ['schedules'], summary: 'Every schedule with its next run', response: { 200: z.object({ items: z.array(scheduleSchema) }) } } }, async () => ({
    items: (await runtime.scheduleRows.list()).map(toScheduleView),
  }));

  app.get(
    '/schedules/:id',
    { schema: { tags: ['schedules'], params: scanIdParamsSchema, response: { 200: scheduleSchema, 400: errorResponseSchema, 404: errorResponseSchema } } },
    async (request, reply) => {
      const s = await runtime.scheduleRows.get(request.params.id);
      return s ? toScheduleView(s) : reply.code(404).send(notFound(request.params.id));
    },
  );

  app.patch(
    '/schedules/:id',
    {
      schema: { tags: ['schedules'], summary: 'Change, pause (`enabled: false`) or resume a schedule', params: scanIdParamsSchema, body: patchScheduleSchema, response: { 200: scheduleSchema, 400: errorResponseSchema, 404: errorResponseSchema, 422: errorResponseSchema } },
    },
    async (request, reply) => {
      const s = await runtime.schedules.update(request.params.id, request.body);
      return s ? toScheduleView(s) : reply.code(404).send(notFound(request.params.id));
    },
  );

  app.delete(
    '/schedules/:id',
    { schema: { tags: ['schedules'], params: scanIdParamsSchema, response: { 204: z.null(), 400: errorResponseSchema, 404: errorResponseSchema } } },
    async (request, reply) => ((await runtime.schedules.delete(request.params.id)) ? reply.code(204).send(null) : reply.code(404).send(notFound(request.params.id))),
  );
};
