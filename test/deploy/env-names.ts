import { CONFIG_ENV_NAMES } from '@scanq/core';

/**
 * Variables the deployment sets that other branches of issue 16 add to config.ts (Redis
 * topologies, the worker's HTTP server, the credentials file). Allowed only while config.ts
 * does not know them yet; once merged, config.ts's own list decides.
 */
const ADDED_BY_OTHER_BRANCHES = new Set([
  'SCANQ_REDIS_MODE',
  'SCANQ_REDIS_NODES',
  'SCANQ_REDIS_SENTINELS',
  'SCANQ_REDIS_SENTINEL_MASTER',
  'SCANQ_REDIS_PASSWORD',
  'SCANQ_REDIS_TLS',
  'SCANQ_WORKER_HTTP_HOST',
  'SCANQ_WORKER_HTTP_PORT',
  'SCANQ_CREDENTIALS_FILE',
]);

/** Names config.ts does not read (SIM_* are the simulator's open-ended options). */
export function unknownEnvNames(names: Iterable<string>): string[] {
  const known = new Set(CONFIG_ENV_NAMES);
  return [...new Set(names)].filter((n) => !known.has(n) && !n.startsWith('SIM_') && !ADDED_BY_OTHER_BRANCHES.has(n)).sort();
}

/** A deliberately wrong name must be caught (the check itself works). */
export const NOT_A_CONFIG_NAME = 'SCANQ_NO_SUCH_SETTING';
