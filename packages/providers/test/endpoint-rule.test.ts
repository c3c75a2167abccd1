import { createServer, type Server } from 'node:net';
import { ProviderError } from '@scanq/core';
import { addressRefusal } from '@scanq/core/net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProviders } from '../src/index.js';
import { CALLS, simAccount } from './sim-clouds.js';

/**
 * Account endpoints are checked where the adapters' SDKs connect: one leading to a loopback,
 * private, link-local or CGNAT address is refused before a connection is made (a listener
 * counts every connection it is offered), unless the endpoint rule allows it.
 */
describe('account endpoints: private targets refused at connect time on all four SDKs', () => {
  let server: Server;
  let port = 0;
  let connections = 0;
  beforeAll(async () => {
    server = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const endpoints = () => [
    // An IP literal (Node skips the DNS lookup for it) and a name that resolves to loopback.
    `http://127.0.0.1:${port}`,
    `http://localhost:${port}`,
  ];

  for (const provider of ['aws', 'alibaba', 'tencent', 'huawei'] as const) {
    it(`${provider}: an endpoint on loopback is refused as terminal EndpointRefused naming the rule, with no connection made`, async () => {
      const adapter = createProviders({ timeouts: { requestMs: 5_000, connectMs: 5_000 } })[provider]!;
      for (const endpoint of endpoints()) {
        const before = connections;
        const err = await CALLS[provider].call(adapter, simAccount(provider, endpoint)).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(ProviderError);
        expect(err).toMatchObject({ kind: 'terminal', code: 'EndpointRefused', reason: 'endpoint_refused' });
        const message = (err as Error).message;
        expect(message).toContain(`endpoint ${endpoint}`);
        expect(message).toMatch(/a loopback address; account endpoints may not lead to loopback, private, link-local or CGNAT addresses unless SCANQ_PROVIDER_ALLOW_PRIVATE_ENDPOINTS=true/);
        expect(connections).toBe(before);
      }
    });
  }

  it('lets loopback through when allowed (the listener is reached), and everything with allowPrivate', async () => {
    for (const endpoints of [{ allowLoopback: true }, { allowPrivate: true }]) {
      const before = connections;
      const err = await CALLS.tencent.call(createProviders({ endpoints })['tencent']!, simAccount('tencent', `http://127.0.0.1:${port}`)).then(
        () => undefined,
        (e: unknown) => e,
      );
      // The listener hangs up at once: a retryable network failure, not a refusal.
      expect(err).toMatchObject({ kind: 'retryable' });
      expect(connections).toBeGreaterThan(before);
    }
  });

  it('judges addresses as webhooks do: loopback only by its own allowance, other private ranges only by allowPrivate', () => {
    const strict = { allowPrivate: false };
    const loopback = { allowPrivate: false, allowLoopback: true };
    for (const a of ['10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', 'fd00::1', 'fe80::1', '0.0.0.0', '::ffff:10.0.0.1']) {
      expect(addressRefusal(a, strict)).toBe('private');
      expect(addressRefusal(a, loopback)).toBe('private');
      expect(addressRefusal(a, { allowPrivate: true })).toBeNull();
    }
    for (const a of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1']) {
      expect(addressRefusal(a, strict)).toBe('loopback');
      expect(addressRefusal(a, loopback)).toBeNull();
    }
    for (const a of ['8.8.8.8', '2606:4700::1111', '100.128.0.1']) expect(addressRefusal(a, strict)).toBeNull();
  });
});
