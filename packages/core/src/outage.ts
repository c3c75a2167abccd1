/**
 * Which backing service an error says is unreachable, in one place for every process: the API
 * answers such errors with 503 + Retry-After (not 500), and anything else that must tell an
 * outage from a bug asks here too. Duck-typed (names, codes, messages), so core needs none of
 * the drivers it recognises: node-postgres, Prisma over @prisma/adapter-pg, ioredis, BullMQ.
 */
export type Dependency = 'postgres' | 'redis';

/** Thrown where scanq itself gives up waiting on a dependency (e.g. a queue never ready). */
export class DependencyUnavailableError extends Error {
  override name = 'DependencyUnavailableError';
  constructor(
    readonly dependency: Dependency,
    message = `${dependency} is unavailable`,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Postgres SQLSTATEs of an outage rather than of a statement: class 08 (connection exception),
 * 57P01–57P03 (admin/crash shutdown, cannot connect now: starting or in recovery), 53300 (too
 * many connections).
 */
const PG_OUTAGE_STATE = /^(08...|57P0[123]|53300)$/;
/** node-postgres' own words for a connection it lost or never got. */
const PG_OUTAGE_MESSAGE = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable|Query read timeout)/;
/** Prisma's codes for an unreachable or overloaded server: can't reach, timed out, closed, pool timeout. */
const PRISMA_OUTAGE_CODE = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
/** @prisma/adapter-pg's kinds for the same. */
const ADAPTER_OUTAGE_KIND = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);
/** Socket failures. ioredis never rejects a command with these (it reports them as events), so they are Postgres'. */
const SOCKET_CODE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** ioredis and BullMQ: offline, closed, out of retries, timed out. */
const REDIS_OUTAGE_MESSAGE = /^(Stream isn't writeable and enableOfflineQueue options is false|Connection is closed\.?|Reached the max retries per request limit|Command timed out)/;
/** Redis replies of a server that cannot serve now (loading, failing over, cluster down, busy script). */
const REDIS_OUTAGE_REPLY = /^(LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY) /;

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  syscall?: unknown;
  kind?: unknown;
  cause?: unknown;
  meta?: { driverAdapterError?: { cause?: unknown } };
  errors?: unknown;
}

function classifyOne(e: ErrorLike): Dependency | null {
  const name = typeof e.name === 'string' ? e.name : '';
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : '';
  if (e instanceof DependencyUnavailableError) return e.dependency;
  if (name === 'MaxRetriesPerRequestError' || name === 'ConnectionClosedError') return 'redis';
  if (name === 'ReplyError' && REDIS_OUTAGE_REPLY.test(message)) return 'redis';
  if (REDIS_OUTAGE_MESSAGE.test(message)) return 'redis';
  if (name.startsWith('PrismaClient') && PRISMA_OUTAGE_CODE.has(code)) return 'postgres';
  if (name === 'PrismaClientInitializationError') return 'postgres';
  if (typeof e.kind === 'string' && (ADAPTER_OUTAGE_KIND.has(e.kind) || (e.kind === 'postgres' && PG_OUTAGE_STATE.test(code)))) return 'postgres';
  // A node-postgres DatabaseError carries the server's SQLSTATE and a severity.
  if (PG_OUTAGE_STATE.test(code) && 'severity' in e) return 'postgres';
  if (PG_OUTAGE_MESSAGE.test(message)) return 'postgres';
  if (SOCKET_CODE.has(code) && typeof e.syscall === 'string') return 'postgres';
  return null;
}

/**
 * The dependency an error shows to be down or unreachable, or null for any other error. Looks
 * through `cause` chains, Prisma's wrapped driver-adapter error and AggregateErrors.
 */
export function dependencyOutage(err: unknown): Dependency | null {
  const seen = new Set<unknown>();
  const stack: unknown[] = [err];
  while (stack.length > 0) {
    const e = stack.pop();
    if (e === null || typeof e !== 'object' || seen.has(e) || seen.size > 20) continue;
    seen.add(e);
    const found = classifyOne(e as ErrorLike);
    if (found) return found;
    const { cause, meta, errors } = e as ErrorLike;
    stack.push(cause, meta?.driverAdapterError, meta?.driverAdapterError?.cause);
    if (Array.isArray(errors)) stack.push(...errors);
  }
  return null;
}
