import { defineConfig } from 'vitest/config';

/**
 * Three groups: everything else runs file-parallel first; then the multi-process end-to-end
 * files run one at a time. They judge quotas by the simulator's per-second counters, which a
 * machine crowded with other test files would blur (a request delayed past its second). Last,
 * the fault suite (test/faults): each file starts a Redis, a Postgres and a whole system of its
 * own and breaks them, one file at a time.
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
    ],
  },
});
