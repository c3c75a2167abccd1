import { AsyncLocalStorage } from 'node:async_hooks';
import type { Agent } from 'node:http';
import { createRequire } from 'node:module';

/**
 * Alibaba's Node libraries take no agent: `@alicloud/openapi-client` (through its Tea runtime)
 * and `@alicloud/credentials` send every request through `httpx.request` with httpx's own
 * module-wide agents. Each httpx instance they use is found from their own dependencies and its
 * `request` given the agent of the call in progress (an AsyncLocalStorage kept on that module,
 * so every copy of this file shares it); calls from anywhere else pass through untouched.
 */
type HttpxRequest = (url: string, opts?: Record<string, unknown>) => Promise<unknown>;
export interface Httpx {
  request: HttpxRequest;
  read(response: unknown, encoding: string): Promise<Buffer | string>;
  [CALL_AGENT]?: AsyncLocalStorage<Agent>;
}
const CALL_AGENT = Symbol.for('scanq.alibaba.callAgent');
const shared = new AsyncLocalStorage<Agent>();

/** The httpx instance `pkg` loads (through `via`, a package that depends on it, when given), hooked. */
export function hookedHttpx(pkg: string, via?: string): Httpx {
  let from = createRequire(createRequire(import.meta.url).resolve(pkg));
  if (via) from = createRequire(from.resolve(via));
  const httpx = from('httpx') as Httpx;
  if (!httpx[CALL_AGENT]) {
    const request = httpx.request;
    const store = (globalThis as { [CALL_AGENT]?: AsyncLocalStorage<Agent> })[CALL_AGENT] ?? shared;
    (globalThis as { [CALL_AGENT]?: AsyncLocalStorage<Agent> })[CALL_AGENT] = store;
    httpx.request = (url, opts) => {
      const agent = store.getStore();
      return request(url, agent && !opts?.agent ? { ...opts, agent } : opts);
    };
    httpx[CALL_AGENT] = store;
  }
  return httpx;
}

/** Runs `fn` with every hooked httpx request inside it sent through `agent`. */
export function withAgent<T>(agent: Agent, fn: () => T): T {
  const store = (globalThis as { [CALL_AGENT]?: AsyncLocalStorage<Agent> })[CALL_AGENT] ?? shared;
  return store.run(agent, fn);
}
