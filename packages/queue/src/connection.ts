import type { RedisTopologyConfig } from '@scanq/core';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { setReplicaAck } from './replica-ack.js';

/** A connection to any of the three topologies: BullMQ and the quota primitives take either. */
export type RedisClient = Redis | Cluster;

/**
 * The one place a Redis client is made, for every topology (standalone URL, Cluster seed nodes,
 * Sentinel master name). BullMQ workers need `maxRetriesPerRequest: null` (blocking commands
 * must wait out reconnects instead of failing). `options` apply to each node connection; a
 * cluster also takes its own offline queue and retry strategy from them. The topology's
 * `replicaAck` goes with the client: the quota primitives WAIT for that many replicas.
 */
export function createRedis(topology: RedisTopologyConfig | string, options: RedisOptions = {}): RedisClient {
  const t: RedisTopologyConfig = typeof topology === 'string' ? { mode: 'standalone', url: topology } : topology;
  const client = connect(t, options);
  setReplicaAck(client, t.replicaAck);
  return client;
}

function connect(t: RedisTopologyConfig, options: RedisOptions): RedisClient {
  const auth = { ...(t.username ? { username: t.username } : {}), ...(t.password ? { password: t.password } : {}) };
  const base: RedisOptions = {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    // A master demoted by a failover answers writes with READONLY (and unblocks blocked reads so):
    // reconnect, which finds the new master (sentinel, cluster slot map, a DNS name that moved),
    // and send the command again, instead of failing it to BullMQ.
    reconnectOnError: (err) => (/^(READONLY|UNBLOCKED)/.test(err.message) ? 2 : false),
    ...auth,
    ...options,
  };
  switch (t.mode) {
    case 'standalone':
      return new Redis(t.url, base);
    case 'sentinel':
      return new Redis({
        ...base,
        sentinels: t.sentinels,
        name: t.masterName,
        ...(t.tls ? { tls: {} } : {}),
        // Sentinels may sit behind the same ACL; ioredis asks them apart from the data nodes.
        ...(t.password ? { sentinelPassword: t.password } : {}),
        ...(t.username ? { sentinelUsername: t.username } : {}),
        // Reconnect to the new master as soon as a sentinel announces +switch-master.
        failoverDetector: true,
      });
    case 'cluster': {
      const { retryStrategy, enableOfflineQueue, ...nodeOptions } = base;
      const clusterOptions: ClusterOptions = {
        redisOptions: { ...nodeOptions, ...(t.tls ? { tls: {} } : {}) },
        ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
        ...(retryStrategy ? { clusterRetryStrategy: (times: number) => retryStrategy(times) ?? null } : {}),
        // Managed clusters (ElastiCache, Memorystore) answer with TLS certificates for names, not IPs: keep the name.
        ...(t.tls ? { dnsLookup: (address: string, callback: (err: null, address: string) => void) => callback(null, address) } : {}),
        enableReadyCheck: true,
        // After a failover: MOVED/TRYAGAIN/CLUSTERDOWN are retried on the new slot map, not surfaced.
        retryDelayOnFailover: 200,
        retryDelayOnClusterDown: 300,
        retryDelayOnTryAgain: 200,
        slotsRefreshTimeout: 2_000,
      };
      return new Cluster(t.nodes, clusterOptions);
    }
  }
}

/** Each master of a cluster (whose keys a SCAN must visit one by one), or the one server. */
export function scanTargets(redis: RedisClient): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}

/** Every key matching `pattern`, on every master. */
export async function scanKeys(redis: RedisClient, pattern: string, count = 1000): Promise<string[]> {
  // A cluster knows its masters once its slot map is loaded (the first command waits for it).
  if (redis instanceof Cluster && redis.status !== 'ready') await redis.ping();
  const found = new Set<string>();
  for (const node of scanTargets(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      cursor = next;
      for (const k of keys) found.add(k);
    } while (cursor !== '0');
  }
  return [...found];
}
