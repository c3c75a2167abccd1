import { scanSchema } from '@scanq/core';
import type { FastifySerializerCompiler } from 'fastify/types/schema.js';
import fastJsonStringify from 'fast-json-stringify';
import { createSerializerCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';

/**
 * Response schemas whose answers views.ts builds from typed rows (the view's type is the
 * schema's), on the hottest routes: they are written by a stringify compiled once from the
 * schema's JSON Schema (fast-json-stringify) instead of zod re-checking and copying every answer
 * (about a third of the cost of writing a scan, bench/RESULTS.md). Every other answer keeps the
 * zod serializer. The OpenAPI document is made from the same zod schemas either way.
 */
const COMPILED_VIEWS: z.ZodType[] = [scanSchema];

const zodSerializer = createSerializerCompiler({});

export function responseSerializerCompiler(): FastifySerializerCompiler<z.ZodType> {
  const compiled = new Map<unknown, (data: unknown) => string>(COMPILED_VIEWS.map((schema) => [schema, compileView(schema)]));
  return (route) => compiled.get(route.schema) ?? zodSerializer(route);
}

/** One view schema's compiled stringify (exported for the test that holds it to the zod serializer's output). */
export function compileView(schema: z.ZodType): (data: unknown) => string {
  return fastJsonStringify(z.toJSONSchema(schema, { target: 'draft-7', io: 'output' }) as Parameters<typeof fastJsonStringify>[0]);
}
