/**
 * `pnpm bench [section…]`: every benchmark section, or the named ones (spine, alibaba, tencent,
 * huawei, bulk, bulk-alibaba, bulk-tencent, bulk-huawei, memory, metrics, inventory, api, tracing), one after another on the machine's own Redis and Postgres (REDIS_URL /
 * DATABASE_URL). Each section prints its figures with the goal beside them. Timings live
 * here, never in pass/fail tests. Recorded runs: bench/RESULTS.md.
 */
import { benchAlibaba } from './alibaba.js';
import { benchApi } from './api.js';
import { benchBulk } from './bulk.js';
import { benchBulkAlibaba } from './bulk-alibaba.js';
import { benchBulkHuawei } from './bulk-huawei.js';
import { benchBulkTencent } from './bulk-tencent.js';
import { benchHuawei } from './huawei.js';
import { benchInventory } from './inventory.js';
import { benchMemory } from './memory.js';
import { benchMetrics } from './metrics.js';
import { benchSpine } from './spine.js';
import { benchTencent } from './tencent.js';
import { benchTracing } from './tracing.js';

const SECTIONS: Record<string, () => Promise<Record<string, string>>> = {
  spine: benchSpine,
  alibaba: benchAlibaba,
  tencent: benchTencent,
  huawei: benchHuawei,
  bulk: benchBulk,
  'bulk-alibaba': benchBulkAlibaba,
  'bulk-tencent': benchBulkTencent,
  'bulk-huawei': benchBulkHuawei,
  memory: benchMemory,
  metrics: benchMetrics,
  inventory: benchInventory,
  api: benchApi,
  tracing: benchTracing,
};

const wanted = process.argv.slice(2).filter((a) => a !== '--');
const unknown = wanted.filter((w) => !(w in SECTIONS));
if (unknown.length) {
  console.error(`unknown bench section(s) ${unknown.join(', ')}; choose from ${Object.keys(SECTIONS).join(', ')}`);
  process.exit(2);
}
console.log(`scanq bench (${new Date().toISOString()})`);
let failed = false;
for (const name of wanted.length ? wanted : Object.keys(SECTIONS)) {
  const started = performance.now();
  try {
    const figures = await SECTIONS[name]!();
    console.log(`\n[${name}] (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    for (const [k, v] of Object.entries(figures)) console.log(`  ${k.padEnd(48)} ${v}`);
  } catch (err) {
    failed = true;
    console.log(`\n[${name}] failed: ${(err as Error).stack ?? err}`);
  }
}
process.exit(failed ? 1 : 0);
