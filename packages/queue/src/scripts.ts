import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RedisClient } from './connection.js';

const LUA_DIR = join(dirname(fileURLToPath(import.meta.url)), 'lua');

/**
 * Loads `lua/<name>-<numberOfKeys>.lua` (BullMQ's naming) as an ioredis command: EVALSHA with
 * an automatic EVAL fallback, pipelined like any other command.
 */
export function defineLuaCommand(redis: RedisClient, file: string): void {
  const match = /^(.+)-(\d+)\.lua$/.exec(file);
  if (!match) throw new Error(`lua script ${file} must be named <command>-<numberOfKeys>.lua`);
  const [, name, keys] = match as unknown as [string, string, string];
  if (typeof (redis as unknown as Record<string, unknown>)[name] === 'function') return;
  redis.defineCommand(name, { numberOfKeys: Number(keys), lua: readFileSync(join(LUA_DIR, file), 'utf8') });
}

export type LuaCall = (...args: (string | number)[]) => Promise<unknown>;

export function luaCommand(redis: RedisClient, name: string): LuaCall {
  const fn = (redis as unknown as Record<string, LuaCall>)[name];
  if (!fn) throw new Error(`lua command ${name} is not defined`);
  return fn.bind(redis);
}
