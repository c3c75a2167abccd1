import { afterAll } from 'vitest';
import { databaseExists, keysByPrefix, testEnvsCreatedHere } from './env.js';

/**
 * After every test file (a vitest setup file: its afterAll runs after the file's own): each
 * env the file created must be gone — no Redis key under its prefix, no database. A file that
 * leaves either fails, naming what it left; what it left is removed so later runs start clean.
 */
afterAll(async () => {
  const left: string[] = [];
  for (const env of testEnvsCreatedHere()) {
    const [keys, database] = await Promise.all([keysByPrefix(env.redisTopology, env.prefix), databaseExists(env.databaseUrl, env.databaseName)]);
    if (keys.length) left.push(`${keys.length} Redis key(s) under ${env.prefix} (${keys.slice(0, 5).join(', ')}${keys.length > 5 ? ', …' : ''})`);
    if (database) left.push(`database ${env.databaseName}`);
    if (keys.length || database) await env.cleanup();
  }
  if (left.length) throw new Error(`this test file left behind ${left.join(' and ')}: close what it starts and call env.cleanup() in afterAll`);
}, 60_000);
