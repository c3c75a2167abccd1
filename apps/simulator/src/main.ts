import { loadConfig } from '@scanq/core';
import { startSimulator } from './core/server.js';
import { createFrontEnds } from './frontends.js';

// Standalone simulator process: `pnpm simulator` (or the `simulator` compose service).
const config = loadConfig();
const sim = await startSimulator({
  host: config.simulator.host,
  port: config.simulator.port,
  seed: config.simulator.seed,
  frontEnds: createFrontEnds(config.simulator.options),
  logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel,
});
console.log(JSON.stringify({ msg: 'simulator listening', url: sim.url }));
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void sim.close().then(() => process.exit(0)));
}
