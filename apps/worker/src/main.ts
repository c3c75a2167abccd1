import { loadConfig } from '@scanq/core';
import { startWorker } from './worker.js';

const config = loadConfig();
const worker = await startWorker(config);
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    // Not ready from this moment (the pod leaves its Service, dashboards see it going), then drain.
    worker.startDraining();
    // close() cuts cloud calls in flight and hands their jobs back; should anything else hold it
    // (a database that stopped answering), exit inside the orchestrator's grace all the same.
    setTimeout(() => {
      worker.runtime.log.warn({ graceMs: config.worker.shutdownGraceMs }, 'shutdown grace passed: exiting with work unfinished (it returns through the stalled check)');
      process.exit(1);
    }, config.worker.shutdownGraceMs).unref();
    worker.close().then(
      () => process.exit(0),
      (err: unknown) => {
        worker.runtime.log.error({ err: (err as Error).message }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
