import { Cluster, Command, type Redis } from 'ioredis';
import type { RedisClient } from './connection.js';

/**
 * How many replicas must hold a quota grant before it counts, and for how long a grant may wait
 * for them (SCANQ_REDIS_WAIT_REPLICAS / SCANQ_REDIS_WAIT_TIMEOUT_MS). 0 replicas: no WAIT at all.
 */
export interface ReplicaAckPolicy {
  replicas: number;
  timeoutMs: number;
}

/** The grant was written but no `replicas` replicas confirmed it within the timeout: it does not count. */
export class ReplicaAckError extends Error {
  override name = 'ReplicaAckError';
}

/** Longest single WAIT: a connection blocked in WAIT answers nothing else, and a reconnect is seen between rounds. */
const WAIT_ROUND_MS = 1_000;

const policies = new WeakMap<RedisClient, ReplicaAckPolicy>();
/** 'close' events seen per node connection: a write and its WAIT must run on one unbroken connection. */
const closes = new WeakMap<Redis, { count: number }>();

/** Attaches `policy` to a client (createRedis does, from the topology config). */
export function setReplicaAck(redis: RedisClient, policy: ReplicaAckPolicy | undefined): void {
  if (policy && policy.replicas > 0) policies.set(redis, policy);
  else policies.delete(redis);
}

export function replicaAckOf(redis: RedisClient): ReplicaAckPolicy | undefined {
  return policies.get(redis);
}

/**
 * A connection of its own for the quota primitives when grants wait for replicas (a connection
 * blocked in WAIT answers nothing else, BullMQ's commands included); the client itself otherwise.
 */
export function quotaConnection(redis: RedisClient): RedisClient {
  const policy = replicaAckOf(redis);
  if (!policy) return redis;
  const own = redis.duplicate();
  setReplicaAck(own, policy);
  return own;
}

/** The connection that serves `key`'s writes now: the client itself, or a cluster's master for the key's slot. */
async function nodeFor(redis: RedisClient, key: string): Promise<Redis | undefined> {
  if (!(redis instanceof Cluster)) return redis;
  if (redis.status !== 'ready') await redis.ping();
  const slot = new Command('get', [key]).getSlot();
  const owner = slot === null ? undefined : redis.slots[slot]?.[0];
  return owner === undefined ? undefined : redis.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner);
}

function closeCount(node: Redis): { count: number } {
  let c = closes.get(node);
  if (!c) {
    const counter = { count: 0 };
    node.on('close', () => (counter.count += 1));
    closes.set(node, counter);
    c = counter;
  }
  return c;
}

/** Per connection: the WAIT in flight, and the one queued after it (shared by every write answered meanwhile). */
const waits = new WeakMap<Redis, { running: Promise<number> | null; queued: Promise<number> | null }>();

/**
 * Replicas holding every write this connection made before now. WAIT blocks the connection, so
 * concurrent grants share one: a write answered while a WAIT is in flight (sent maybe before the
 * write) joins the next, sent once that one returns. Many grants at once cost about two WAITs,
 * not one each in a row. A refused WAIT (a replica, a closing connection) answers -1.
 */
function confirmWrites(node: Redis, replicas: number, roundMs: number): Promise<number> {
  let w = waits.get(node);
  if (!w) waits.set(node, (w = { running: null, queued: null }));
  const state = w;
  const send = (): Promise<number> => {
    const p = node.call('WAIT', replicas, roundMs).then(Number, () => -1);
    state.running = p;
    void p.finally(() => {
      if (state.running === p) state.running = null;
    });
    return p;
  };
  if (!state.running) return send();
  if (!state.queued) {
    const q = state.running.then(() => {
      state.queued = null;
      return send();
    });
    state.queued = q;
  }
  return state.queued;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs `write` (one command on `key`) and, where the client has a replica-ack policy, counts its
 * result only once `replicas` replicas hold it: WAIT on the very connection that wrote (on a
 * Cluster, the key's master). Replication is asynchronous: a failover promotes a replica that
 * may lack the master's last writes, and a grant it lacks would be handed out again.
 *
 * When the connection broke or the key moved between the write and its WAIT (a failover: a
 * command resent after a reconnect runs on another server, and a WAIT on a fresh connection
 * confirms nothing of the old one), `write` runs again: it must be safe to repeat (a repeated
 * grant is conservative). No replica confirmed within the timeout: `undo(result)` (best effort)
 * and `ReplicaAckError`. A result that `grants` says is no grant is answered at once.
 */
export async function replicatedWrite<T>(
  redis: RedisClient,
  key: string,
  write: () => Promise<T>,
  opts: { /** Whether this result is a grant (a refusal needs no replica). */ grants?: (result: T) => boolean; undo?: (result: T) => Promise<unknown> } = {},
): Promise<T> {
  const policy = replicaAckOf(redis);
  if (!policy) return write();
  const deadline = Date.now() + policy.timeoutMs;
  let acked = 0;
  let result: T | undefined;
  let written = false;
  while (Date.now() < deadline) {
    const node = await nodeFor(redis, key);
    if (!node) {
      await sleep(100); // a cluster between slot maps
      continue;
    }
    const before = closeCount(node).count;
    result = await write();
    if (opts.grants && !opts.grants(result)) return result;
    written = true;
    const unbroken = async () => closeCount(node).count === before && (await nodeFor(redis, key)) === node;
    // WAIT in short rounds, so a broken connection (the write's server gone) is seen and the write redone.
    while ((await unbroken()) && Date.now() < deadline) {
      const round = Math.max(1, Math.min(WAIT_ROUND_MS, deadline - Date.now()));
      const answer = await confirmWrites(node, policy.replicas, round);
      if (answer < 0) await sleep(100); // a replica or a closing connection refuses WAIT
      acked = Math.max(0, answer);
      if (acked >= policy.replicas && (await unbroken())) return result;
    }
  }
  if (written && opts.undo) await opts.undo(result as T).catch(() => undefined);
  throw new ReplicaAckError(
    `Redis write to ${key} not confirmed by ${policy.replicas} replica(s) (${acked} did) within ${policy.timeoutMs} ms: not counted (SCANQ_REDIS_WAIT_REPLICAS must not exceed the replicas each master has)`,
  );
}
