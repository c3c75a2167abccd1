import { type Provider, simulatorAccountRequest } from '@scanq/core';
import { createRuntime, type ScanqRuntime } from '@scanq/scans';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { buildApi } from '../src/app.js';

type FastifyInstance = Awaited<ReturnType<typeof buildApi>>['app'];

export interface InProcessApi {
  env: TestEnv;
  runtime: ScanqRuntime;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** No simulator behind these accounts: requests are answered before any cloud call. */
const UNREACHABLE = 'http://127.0.0.1:9';

/**
 * The API built in this process on its own database and queue prefix (no worker), with the
 * first simulator account of each of `providers` registered; tests call it with `app.inject`
 * or `app.listen`.
 */
export async function startInProcessApi(name: string, providers: Provider[] = [], adminPassword = 'test-admin-password', overrides: Record<string, string> = {}): Promise<InProcessApi> {
  const env = await createTestEnv(name);
  const runtime = createRuntime(env.config({ LOG_LEVEL: 'silent', ...overrides }));
  for (const provider of providers) await runtime.accounts.create(simulatorAccountRequest(provider, 0, UNREACHABLE));
  const { app } = await buildApi(runtime, { adminUser: 'admin', adminPassword, logger: false });
  await app.ready();
  return {
    env,
    runtime,
    app,
    async close() {
      await app.close();
      await runtime.close();
      await env.cleanup();
    },
  };
}
