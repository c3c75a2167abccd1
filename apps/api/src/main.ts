import { loadConfig } from '@scanq/core';
import { createLogger, createRuntime, seedDemoAccounts, startTracing } from '@scanq/scans';
import { BULL_BOARD_PATH, buildApi } from './app.js';

const config = loadConfig();
// Fail-fast connections: a request on a dead Postgres or Redis gets a 503 in seconds, not a wait.
const tracing = await startTracing(config.tracing, 'scanq-api');
const runtime = createRuntime(config, createLogger(config, 'api'), { failFast: true, tracing });
if (config.demoAccounts) {
  // Before listening: a ready API has its demo accounts.
  const names = await seedDemoAccounts(runtime.accounts, config.simulator.url);
  runtime.log.info({ accounts: names, simulator: config.simulator.url }, 'demo accounts ready (SCANQ_DEMO_ACCOUNTS)');
}
const { app, adminPassword } = await buildApi(runtime, { adminUser: config.api.adminUser, adminPassword: config.api.adminPassword });
await app.listen({ host: config.api.host, port: config.api.port });
const base = config.api.publicUrl;
app.log.info({ api: `${base}/v1`, docs: `${base}/docs`, bullBoard: `${base}${BULL_BOARD_PATH}` }, 'scanq API listening');
if (!config.api.adminPassword) app.log.warn(`SCANQ_ADMIN_PASSWORD not set: Bull Board password for "${config.api.adminUser}" is ${adminPassword}`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void app.close().then(() => runtime.close()).then(() => process.exit(0)));
}
