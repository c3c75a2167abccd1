import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest, createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CALL_DEADLINE, CallDeadline } from '@scanq/core/call-deadline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderAccount } from '../src/contract.js';
import { ProviderTransport } from '../src/transport.js';

/**
 * The clouds' real endpoints are https: the transport runs TLS over a TCP socket of its own so
 * that a deadline can reset it. Against a local https server (a certificate made for the test):
 * calls go through as usual, TLS sessions are resumed on new connections, and a call past its
 * deadline ends with its connection reset (the server sees ECONNRESET, not a FIN).
 */
describe('provider transport over TLS: calls pass, and a CallDeadline resets the connection', () => {
  let dir: string;
  let server: Server;
  let url: string;
  let ca: Buffer;
  const serverErrors: string[] = [];
  const resumed: boolean[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'scanq-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    ca = readFileSync(join(dir, 'cert.pem'));
    server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: ca }, (req, res) => {
      resumed.push((req.socket as unknown as { isSessionReused(): boolean }).isSessionReused());
      req.resume();
      // /hang is never answered: only the caller's deadline ends it.
      if (req.url !== '/hang') req.on('end', () => res.end('ok'));
    });
    server.on('secureConnection', (socket: Socket) => socket.on('error', (err: NodeJS.ErrnoException) => serverErrors.push(err.code ?? err.message)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://localhost:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const account = (): ProviderAccount => ({ id: 'tls', provider: 'aws', name: 'tls', region: 'test', endpoint: url, settings: {}, credentials: {} });
  const send = (agent: ReturnType<ProviderTransport['agent']>, path: string) =>
    new Promise<string>((resolve, reject) => {
      const req = httpsRequest(`${url}${path}`, { method: 'POST', agent, ca }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end('{}');
    });

  it('answers calls, verifying the server certificate, and resumes the TLS session on a new connection', async () => {
    const transport = new ProviderTransport({ endpoints: { allowLoopback: true } });
    const agent = transport.agent(account(), 'https:');
    expect(await send(agent, '/one')).toBe('ok');
    agent.destroy(); // next call: a new connection, which resumes the session
    expect(await send(agent, '/two')).toBe('ok');
    expect(resumed.slice(-2)).toEqual([false, true]);
    // A certificate the caller does not trust is refused as ever.
    const strict = new ProviderTransport({ endpoints: { allowLoopback: true } }).agent(account(), 'https:');
    await expect(new Promise((resolve, reject) => httpsRequest(`${url}/three`, { agent: strict }, resolve).on('error', reject).end())).rejects.toThrow(/self[- ]signed|unable to verify/);
  });

  it('a call hanging past its CallDeadline ends with CallDeadline and its TLS connection reset', async () => {
    const agent = new ProviderTransport({ endpoints: { allowLoopback: true } }).agent(account(), 'https:');
    expect(await send(agent, '/warm')).toBe('ok');
    const before = serverErrors.filter((e) => e === 'ECONNRESET').length;
    const deadline = new CallDeadline(Date.now() + 500, 'the tls call');
    await expect(deadline.run(() => send(agent, '/hang'))).rejects.toMatchObject({ code: CALL_DEADLINE });
    await expect.poll(() => serverErrors.filter((e) => e === 'ECONNRESET').length, { timeout: 5_000 }).toBe(before + 1);
    // The agent goes on with a new connection for calls after it.
    expect(await send(agent, '/after')).toBe('ok');
  });

  it('the shutdown signal resets every open connection: the call under way and the idle kept-alive one', async () => {
    const shutdown = new AbortController();
    const transport = new ProviderTransport({ endpoints: { allowLoopback: true }, shutdownSignal: shutdown.signal });
    const [busy, idle] = [transport.agent(account(), 'https:'), transport.agent(account(), 'https:')];
    expect(await send(idle, '/warm')).toBe('ok');
    expect(await send(busy, '/warm')).toBe('ok');
    const before = serverErrors.filter((e) => e === 'ECONNRESET').length;
    const requests = resumed.length;
    const hanging = send(busy, '/hang').then(() => undefined, (e: unknown) => e);
    // The server has the hanging request before the signal.
    await expect.poll(() => resumed.length, { timeout: 5_000 }).toBe(requests + 1);
    shutdown.abort();
    expect(await hanging).toBeInstanceOf(Error);
    await expect.poll(() => serverErrors.filter((e) => e === 'ECONNRESET').length, { timeout: 5_000 }).toBe(before + 2);
  });
});
