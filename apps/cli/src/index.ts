export { createProgram, run } from './program.js';
export { type CliIo, CliExit, ExitCode } from './io.js';
export { buildScanRequest, type ScanFlags } from './scan-request.js';
