import { connect } from 'node:net';
import { errorResponseSchema } from '@scanq/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH } from '../../../test/support/env.js';
import { type InProcessApi, startInProcessApi } from './in-process-api.js';

/**
 * Every 4xx has one shape — `error`, `message` and `issues` naming the part of the request
 * (`body.…`, `url`, `headers.<name>`, `params.id`, …) and the rule — whoever refuses the
 * request: a route, Fastify while routing, or Node's HTTP parser before Fastify sees anything.
 */

const UNKNOWN_ID = '01a2b3c4-0000-7000-8000-000000000000';

interface Shaped {
  status: number;
  body: unknown;
}

/** The body parses as the API's error shape with at least one issue; returns its issues. */
function issuesOf(res: Shaped): { field: string; rule: string; message: string }[] {
  const parsed = errorResponseSchema.safeParse(res.body);
  expect(parsed.success, JSON.stringify(res.body)).toBe(true);
  const issues = parsed.data!.issues ?? [];
  expect(issues.length, JSON.stringify(res.body)).toBeGreaterThan(0);
  expect(parsed.data!.message).not.toBe('');
  return issues;
}

/** Sends `raw` bytes on a fresh connection; resolves with what came back once the server closes it. */
function rawRequest(port: number, raw: string): Promise<{ status: number; headers: Record<string, string>; body: unknown; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(raw, 'latin1'));
    let data = '';
    const timer = setTimeout(() => reject(new Error(`no answer to ${JSON.stringify(raw.slice(0, 60))}: ${data}`)), 10_000);
    socket.on('data', (d) => (data += d.toString('utf8')));
    socket.on('error', () => undefined); // the server may reset after answering
    socket.on('close', () => {
      clearTimeout(timer);
      const [head = '', body = ''] = data.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: body ? JSON.parse(body) : null, closed: true });
    });
  });
}

describe('4xx shape', () => {
  let api: InProcessApi;
  let port = 0;
  beforeAll(async () => {
    api = await startInProcessApi('errshapes', ['aws']);
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    port = (api.app.server.address() as { port: number }).port;
  });
  afterAll(async () => api?.close());

  const inject = async (method: 'GET' | 'POST', url: string, options: { headers?: Record<string, string>; payload?: string } = {}): Promise<Shaped> => {
    const res = await api.app.inject({ method, url, headers: options.headers ?? AUTH, ...(options.payload !== undefined ? { payload: options.payload } : {}) });
    return { status: res.statusCode, body: res.json() };
  };

  it.each([
    ['a %-escape that is no UTF-8 (FST_ERR_BAD_URL)', 'GET', '/v1/scans/%FF%FE', {}, 400, 'url', 'encoding'],
    ['an id longer than any id (FST_ERR_MAX_PARAM_LENGTH)', 'GET', `/v1/scans/${'a'.repeat(200)}`, {}, 414, 'url', 'max_length'],
    ['a URL longer than 8 KiB', 'GET', `/v1/scans?cursor=${'a'.repeat(9000)}`, {}, 414, 'url', 'max_length'],
    ['an unknown /v1 route', 'GET', '/v1/nothing-here', {}, 404, 'url', 'route'],
    ['an unknown route outside /v1', 'GET', '/nothing-here', {}, 404, 'url', 'route'],
    ['an unknown scan', 'GET', `/v1/scans/${UNKNOWN_ID}`, {}, 404, 'params.id', 'exists'],
    ["an unknown scan's findings", 'GET', `/v1/scans/${UNKNOWN_ID}/findings`, {}, 404, 'params.id', 'exists'],
    ['an unknown bulk scan', 'GET', `/v1/bulk-scans/${UNKNOWN_ID}`, {}, 404, 'params.id', 'exists'],
    ['an unknown schedule', 'GET', `/v1/schedules/${UNKNOWN_ID}`, {}, 404, 'params.id', 'exists'],
    ['no API key', 'GET', '/v1/scans', { headers: {} }, 401, 'headers.authorization', 'api_key'],
    ['no admin credentials for /metrics', 'GET', '/metrics', { headers: {} }, 401, 'headers.authorization', 'basic_auth'],
    ['no admin credentials for Bull Board', 'GET', '/admin/queues', { headers: {} }, 401, 'headers.authorization', 'basic_auth'],
    ['a body of another type', 'POST', '/v1/scans', { headers: { ...AUTH, 'content-type': 'application/xml' }, payload: '<a/>' }, 415, 'headers.content-type', 'one_of'],
    ['a body that is not JSON', 'POST', '/v1/scans', { headers: { ...AUTH, 'content-type': 'application/json' }, payload: '{"a":' }, 400, 'body', 'json'],
    ['a body too large', 'POST', '/v1/scans', { headers: { ...AUTH, 'content-type': 'application/json' }, payload: JSON.stringify({ x: 'a'.repeat(1_100_000) }) }, 413, 'body', 'max_size'],
    ['an id that is no UUID', 'GET', '/v1/scans/not-a-uuid', {}, 400, 'params.id', 'uuid'],
  ] as const)('%s', async (_what, method, url, options, status, field, rule) => {
    const res = await inject(method, url, options);
    expect(res.status).toBe(status);
    expect(issuesOf(res)).toEqual([expect.objectContaining({ field, rule })]);
    // Nothing of the URL comes back beyond a short, printable excerpt.
    expect(JSON.stringify(res.body).length).toBeLessThan(600);
  });

  it('names the field of a conflict and of an unknown account (409, 422)', async () => {
    const scan = { provider: 'aws', account: 'sim-aws', repositoryName: 'scanq/api', imageId: { imageTag: 'latest' } };
    const post = (body: unknown, headers: Record<string, string> = {}) => inject('POST', '/v1/scans', { headers: { ...AUTH, 'content-type': 'application/json', ...headers }, payload: JSON.stringify(body) });
    expect((await post(scan, { 'idempotency-key': 'shape-1' })).status).toBe(202);
    const conflict = await post({ ...scan, repositoryName: 'scanq/other' }, { 'idempotency-key': 'shape-1' });
    expect(conflict.status).toBe(409);
    expect(issuesOf(conflict)[0]).toMatchObject({ field: 'headers.idempotency-key' });
    const unknown = await post({ ...scan, account: 'nobody' });
    expect(unknown.status).toBe(422);
    expect(issuesOf(unknown)[0]).toMatchObject({ field: 'body.account' });
  });

  // Node's parser refuses these before Fastify has a request: answered on the socket, then closed.
  it.each([
    ['a request line that is no HTTP', 'GARBAGE\r\n\r\n', 400, 'method', 'method'],
    ['a method with a bad character', 'G@T /v1/scans HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'method', 'method'],
    ['a control character in the URL', 'GET /v1/scans\x01 HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'url', 'url'],
    ['spaces in the URL', 'GET /v1/a b HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'request_line', 'syntax'],
    ['an unknown HTTP version', 'GET /v1/scans HTTP/9.9\r\nHost: x\r\n\r\n', 400, 'version', 'http_version'],
    ['a header name with a space', 'GET /v1/scans HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n', 400, 'headers', 'header_name'],
    ['a header line without a colon', 'GET /v1/scans HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n', 400, 'headers', 'header_name'],
    ['a control character in a header value', 'GET /v1/scans HTTP/1.1\r\nHost: x\r\nX-Trace: a\x01b\r\n\r\n', 400, 'headers.x-trace', 'header_value'],
    ['a Content-Length that is no number', 'POST /v1/scans HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', 400, 'headers.content-length', 'content_length'],
    ['two Content-Lengths', 'POST /v1/scans HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', 400, 'headers.content-length', 'content_length'],
    ['a bad chunk size', 'POST /v1/scans HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400, 'body', 'chunked'],
    ['a URL larger than the header limit', `GET /v1/scans?x=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414, 'url', 'max_length'],
    ['headers larger than the limit', `GET /v1/scans HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'headers', 'max_size'],
  ])('malformed HTTP: %s', async (_what, raw, status, field, rule) => {
    const res = await rawRequest(port, raw);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers.connection).toBe('close');
    expect(issuesOf(res)).toEqual([expect.objectContaining({ field, rule })]);
    expect(res.closed).toBe(true);
  });

  it('answers a well-formed request on the same server after malformed ones', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(res.status).toBe(200);
  });
});
