import { isProviderError } from '@scanq/core';

/**
 * Is this error Postgres being unreachable (down, restarting, refusing connections) rather than
 * anything about the statement? Such an error says nothing about the work: callers wait and try
 * again instead of failing it (a worker keeps the scan's attempts, the API answers 503).
 */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);
/** SQLSTATEs of a server that is going away or not taking connections (class 08: connection exception). */
const SERVER_CODES = new Set(['57P01', '57P02', '57P03', '53300', '53400']);
/** Prisma's own: can't reach the server, the server closed the connection, pool timeout. */
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1017', 'P2024']);
const MESSAGES = [/connection terminated/i, /timeout exceeded when trying to connect/i, /connection refused/i, /server closed the connection/i, /Can't reach database server/i, /the database system is (starting up|shutting down|in recovery mode)/i, /Client has encountered a connection error/i];

export function isDatabaseUnavailable(err: unknown): boolean {
  // Only errors of this process's Postgres calls reach here unwrapped; cloud errors arrive as ProviderError.
  const seen = new Set<unknown>();
  for (let e: unknown = err; e && typeof e === 'object' && !seen.has(e); ) {
    seen.add(e);
    // A cloud call's failure (its own ECONNRESET included) is the adapter's to classify.
    if (isProviderError(e)) return false;
    const o = e as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown; meta?: { driverAdapterError?: unknown } };
    const code = typeof o.code === 'string' ? o.code : undefined;
    if (code && (NETWORK_CODES.has(code) || SERVER_CODES.has(code) || PRISMA_CODES.has(code) || code.startsWith('08'))) return true;
    if (typeof o.message === 'string' && MESSAGES.some((m) => m.test(o.message as string))) return true;
    // AggregateError (a connect to several addresses), Prisma's driver-adapter wrapping.
    if (Array.isArray(o.errors) && o.errors.some((x) => isDatabaseUnavailable(x))) return true;
    e = o.meta?.driverAdapterError ?? o.cause;
  }
  return false;
}
