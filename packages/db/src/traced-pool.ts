import { type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type pg from 'pg';

/**
 * SQL spans, one per statement, on the pool Prisma (through its pg adapter) and the hot path
 * (SqlClient) share. Explicit rather than @opentelemetry/instrumentation-pg: that one patches pg
 * through module-load hooks, which production's esbuild bundles and ESM imports escape.
 *
 * Both callers use the promise forms: `pool.query(config)`, and `pool.connect()` then
 * `client.query(config)` (transactions). The span starts in the caller's context, so it is a
 * child of the job or request that ran it. pg-pool's own callback-form calls underneath are
 * left alone (they would double each span and lose the caller's context while queued for a
 * connection).
 */

const tracer = trace.getTracer('scanq-db');
const TRACED = Symbol('scanq.traced');

type QueryArgs = [text: string | pg.QueryConfig, values?: unknown[], ...rest: unknown[]];
type QueryFn = (...args: QueryArgs) => unknown;

/** `SELECT`, `UPDATE`, … : the span's name, as the semantic conventions have it for a query without a summary. */
function operationOf(text: string): string {
  const m = /^\s*(?:--[^\n]*\n\s*)*([A-Za-z]+)/.exec(text);
  return m ? m[1]!.toUpperCase() : 'SQL';
}

function traced(query: QueryFn, target: object, database: string | undefined): QueryFn {
  return function tracedQuery(...args: QueryArgs) {
    // Callback and submittable (cursor) forms pass through untraced: only pg-pool's internals use them here.
    if (typeof args[args.length - 1] === 'function' || (typeof args[0] === 'object' && args[0] !== null && typeof (args[0] as { submit?: unknown }).submit === 'function')) {
      return query.apply(target, args);
    }
    const text = typeof args[0] === 'string' ? args[0] : args[0].text;
    const operation = operationOf(text);
    // A transaction's BEGIN says nothing its first statement's span does not: no span of its own.
    if (operation === 'BEGIN') return query.apply(target, args);
    return tracer.startActiveSpan(
      operation,
      {
        kind: SpanKind.CLIENT,
        attributes: { 'db.system.name': 'postgresql', 'db.operation.name': operation, 'db.query.text': text, ...(database ? { 'db.namespace': database } : {}) },
      },
      (span: Span) =>
        (query.apply(target, args) as Promise<pg.QueryResult>).then(
          (result) => {
            if (typeof result?.rowCount === 'number') span.setAttribute('db.response.returned_rows', result.rowCount);
            span.end();
            return result;
          },
          (err: unknown) => {
            const e = err as { code?: string; message?: string };
            span.setStatus({ code: SpanStatusCode.ERROR, message: e.message ?? String(err) });
            if (e.code) span.setAttribute('db.response.status_code', e.code);
            span.end();
            throw err;
          },
        ),
    );
  };
}

/** Makes `pool`'s statements spans (call only when tracing is on: otherwise the pool stays as it was). */
export function tracePool(pool: pg.Pool): void {
  const database = (pool.options as { database?: string; connectionString?: string }).database ?? databaseOf((pool.options as { connectionString?: string }).connectionString);
  const query = pool.query.bind(pool) as QueryFn;
  (pool as unknown as { query: QueryFn }).query = traced(query, pool, database);
  const connect = pool.connect.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { connect: (...args: unknown[]) => unknown }).connect = (...args: unknown[]) => {
    if (args.length > 0) return connect(...args);
    return (connect() as Promise<pg.PoolClient & { [TRACED]?: true }>).then((client) => {
      if (!client[TRACED]) {
        client[TRACED] = true;
        (client as unknown as { query: QueryFn }).query = traced(client.query.bind(client) as QueryFn, client, database);
      }
      return client;
    });
  };
}

function databaseOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || undefined;
  } catch {
    return undefined;
  }
}
