import { defineConfig } from 'vitest/config';

/**
 * What the cluster and sentinel projects re-run on their topology: the quota primitives (every
 * Lua script), the worker's quotas on all four clouds' accounts, and a scan end to end through
 * API and worker processes. Kept to about 2 minutes each on a loaded machine: the four clouds
 * under load with the Alibaba and Tencent quotas judged by the simulator run on both topologies
 * in test/faults/redis-failover.test.ts; `SCANQ_TOPOLOGY_FULL=1` adds the e2e quota files
 * (alibaba-quota, tencent-rate: about 4 more minutes per topology).
 */
const TOPOLOGY_FILES = [
  'packages/queue/test/**/*.test.ts',
  'apps/worker/test/quotas.test.ts',
  'test/e2e/spine.test.ts',
  ...(process.env.SCANQ_TOPOLOGY_FULL ? ['test/e2e/alibaba-quota.test.ts', 'test/e2e/tencent-rate.test.ts'] : []),
];

/**
 * Five groups: everything else runs file-parallel first; then the multi-process end-to-end
 * files run one at a time. They judge quotas by the simulator's per-second counters, which a
 * machine crowded with other test files would blur (a request delayed past its second). Last,
 * the fault suite (test/faults): each file starts a Redis, a Postgres and a whole system of its
 * own and breaks them, one file at a time. Then `cluster` and `sentinel`: their global set-up
 * (test/support/global-setup.ts) starts a 3-master Redis Cluster (a replica each: quota grants WAIT
 * for one) / a Sentinel group and every
 * test env points at it (SCANQ_REDIS_MODE); they re-run TOPOLOGY_FILES one file at a time.
 */
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    globalSetup: ['test/support/global-setup.ts'],
    // After each file: fails it when it left Redis keys under its prefix or its database behind.
    setupFiles: ['test/support/leak-check.ts'],
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'parallel',
          include: ['apps/*/test/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['test/e2e/**', 'test/faults/**', '**/node_modules/**'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 240_000,
          sequence: { groupOrder: 2 },
        },
      },
      ...(['cluster', 'sentinel'] as const).map((name, i) => ({
        extends: true as const,
        test: {
          name,
          include: TOPOLOGY_FILES,
          fileParallelism: false,
          sequence: { groupOrder: 3 + i },
        },
      })),
    ],
  },
});
