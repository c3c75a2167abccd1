/**
 * Runs inside a test host's network namespace (create-over-cut-link.test.ts): a create-like
 * POST through a ProviderTransport agent, as the adapters' SDKs send theirs. Commands arrive on
 * stdin (a pipe, not the network, so they reach a cut host): `warm` opens the keep-alive
 * connection the next POST will use; `deadline <path>` sends under a 1.5 s CallDeadline (what
 * CloudCreateGuard does); `plain <path>` sends with a 1.5 s request timeout that destroys the
 * request, as the SDKs' own timeouts do. Each prints `done <command> <outcome>`.
 */
import { request as httpRequest } from 'node:http';
import { createInterface } from 'node:readline';
import { CallDeadline } from '@scanq/core/call-deadline';
import type { ProviderAccount } from '../../../packages/providers/src/contract.js';
import { ProviderTransport } from '../../../packages/providers/src/transport.js';

const CALL_MS = 1_500;
const endpoint = process.env.CUT_LINK_TARGET!;
const account: ProviderAccount = { id: 'cut-link', provider: 'aws', name: 'cut-link', region: 'test', endpoint, settings: {}, credentials: {} };
const agent = new ProviderTransport({ endpoints: { allowPrivate: true, allowLoopback: true } }).agent(account, 'http:');

const send = (method: string, path: string, timeoutMs?: number) =>
  new Promise<string>((resolve, reject) => {
    const req = httpRequest(`${endpoint}${path}`, { method, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(String(res.statusCode)));
    });
    req.on('error', reject);
    if (timeoutMs) req.setTimeout(timeoutMs, () => req.destroy(new Error('timed out')));
    req.end(method === 'POST' ? '{"create":true}' : undefined);
  });

const outcome = (p: Promise<string>) => p.catch((err: { code?: string; message?: string }) => err.code ?? err.message ?? 'error');

console.log('ready');
for await (const line of createInterface({ input: process.stdin })) {
  const [command, path = '/'] = line.trim().split(/\s+/);
  let result: string;
  if (command === 'warm') result = await outcome(send('GET', '/warm'));
  else if (command === 'deadline') result = await outcome(new CallDeadline(Date.now() + CALL_MS, 'the cut create').run(() => send('POST', path)));
  else if (command === 'plain') result = await outcome(send('POST', path, CALL_MS));
  else result = `unknown command ${command}`;
  console.log(`done ${command} ${result}`);
}
