process.env.BENCH_SCANS = '2000';
const { endToEnd } = await import('./bench/spine.js');
const { createServer } = await import('node:http');
const server = createServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end()); });
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as { port: number }).port;
const r = await endToEnd({ section: 'prof', env: { SCANQ_API_MAX_EVENT_LOOP_DELAY_MS: '0', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' } });
console.log(JSON.stringify(r).slice(0, 300));
process.exit(0);
