import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';

describe('Redis topology configuration', () => {
  it('defaults to standalone on REDIS_URL and the scanq namespace', () => {
    const c = loadConfig({ REDIS_URL: 'rediss://u:p@cache.example.com:6380/2' });
    expect(c.redis).toEqual({ mode: 'standalone', url: 'rediss://u:p@cache.example.com:6380/2', replicaAck: { replicas: 0, timeoutMs: 30_000 } });
    expect(c.queuePrefix).toBe('scanq');
  });

  it('reads cluster seed nodes and sentinels as host:port lists, with credentials and TLS', () => {
    expect(loadConfig({ SCANQ_REDIS_MODE: 'cluster', SCANQ_REDIS_NODES: ' 10.0.0.1:6379, cfg.example.com:7000,[fd00::1]:6379', SCANQ_REDIS_PASSWORD: 'pw', SCANQ_REDIS_TLS: 'true' }).redis).toEqual({
      mode: 'cluster',
      nodes: [{ host: '10.0.0.1', port: 6379 }, { host: 'cfg.example.com', port: 7000 }, { host: 'fd00::1', port: 6379 }],
      password: 'pw',
      tls: true,
      replicaAck: { replicas: 1, timeoutMs: 30_000 },
    });
    expect(loadConfig({ SCANQ_REDIS_MODE: 'sentinel', SCANQ_REDIS_SENTINELS: 's1:26379,s2:26379', SCANQ_REDIS_SENTINEL_MASTER: 'mymaster', SCANQ_REDIS_USERNAME: 'scanq' }).redis).toEqual({
      mode: 'sentinel',
      sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }],
      masterName: 'mymaster',
      username: 'scanq',
      tls: false,
      replicaAck: { replicas: 1, timeoutMs: 30_000 },
    });
  });

  it('waits for replicas on quota grants by mode unless told otherwise, and names a bad value', () => {
    const sentinel = { SCANQ_REDIS_MODE: 'sentinel', SCANQ_REDIS_SENTINELS: 's1:26379', SCANQ_REDIS_SENTINEL_MASTER: 'm' };
    expect(loadConfig({ ...sentinel, SCANQ_REDIS_WAIT_REPLICAS: '0' }).redis.replicaAck).toEqual({ replicas: 0, timeoutMs: 30_000 });
    expect(loadConfig({ SCANQ_REDIS_WAIT_REPLICAS: '2', SCANQ_REDIS_WAIT_TIMEOUT_MS: '5000' }).redis.replicaAck).toEqual({ replicas: 2, timeoutMs: 5000 });
    expect(() => loadConfig({ SCANQ_REDIS_WAIT_REPLICAS: '-1' })).toThrow(/SCANQ_REDIS_WAIT_REPLICAS: .*>=0/);
    expect(() => loadConfig({ SCANQ_REDIS_WAIT_REPLICAS: 'one' })).toThrow(/SCANQ_REDIS_WAIT_REPLICAS/);
    expect(() => loadConfig({ SCANQ_REDIS_WAIT_TIMEOUT_MS: '10' })).toThrow(/SCANQ_REDIS_WAIT_TIMEOUT_MS: .*>=100/);
  });

  it('names the variable and the rule when a topology is incomplete or malformed', () => {
    expect(() => loadConfig({ SCANQ_REDIS_MODE: 'cluster' })).toThrow(/SCANQ_REDIS_NODES: required when SCANQ_REDIS_MODE=cluster: comma-separated host:port/);
    expect(() => loadConfig({ SCANQ_REDIS_MODE: 'cluster', SCANQ_REDIS_NODES: '10.0.0.1' })).toThrow(/SCANQ_REDIS_NODES: "10.0.0.1" must be host:port with a port 1-65535/);
    expect(() => loadConfig({ SCANQ_REDIS_MODE: 'cluster', SCANQ_REDIS_NODES: 'a:70000' })).toThrow(/SCANQ_REDIS_NODES: "a:70000" must be host:port/);
    expect(() => loadConfig({ SCANQ_REDIS_MODE: 'sentinel', SCANQ_REDIS_SENTINELS: 's1:26379' })).toThrow(/SCANQ_REDIS_SENTINEL_MASTER: required when SCANQ_REDIS_MODE=sentinel/);
    expect(() => loadConfig({ SCANQ_REDIS_MODE: 'sentinel', SCANQ_REDIS_SENTINEL_MASTER: 'm' })).toThrow(/SCANQ_REDIS_SENTINELS: required when SCANQ_REDIS_MODE=sentinel/);
    expect(() => loadConfig({ SCANQ_REDIS_MODE: 'replicated' })).toThrow(/SCANQ_REDIS_MODE/);
  });

  it('refuses a key namespace with braces: scanq adds a hash tag per queue itself', () => {
    expect(() => loadConfig({ SCANQ_QUEUE_PREFIX: '{scanq}' })).toThrow(/SCANQ_QUEUE_PREFIX: must be letters, digits and \. _ : - only \(no braces/);
  });
});
