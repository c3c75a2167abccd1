import { loadConfig } from '@scanq/core';
import { startWorker } from './worker.js';

const worker = await startWorker(loadConfig());
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    void worker.close().then(() => process.exit(0));
  });
}
