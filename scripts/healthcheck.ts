/**
 * The container health check (`node dist/healthcheck.js [url]`): exits 0 when `url` answers 2xx
 * within the timeout, 1 otherwise. No url: the API's /healthz on API_PORT. The image is slim
 * (no curl or wget), so the check is a Node script like the processes it checks.
 */
import { loadConfig } from '@scanq/core';

const TIMEOUT_MS = 4_000;
const url = process.argv[2] ?? `http://127.0.0.1:${loadConfig().api.port}/healthz`;
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  if (!res.ok) {
    console.error(`healthcheck: ${url} answered ${res.status}`);
    process.exit(1);
  }
} catch (err) {
  console.error(`healthcheck: ${url} failed: ${(err as Error).message}`);
  process.exit(1);
}
