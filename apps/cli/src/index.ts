export { createProgram, run } from './program.js';
export { type CliIo, CliExit, ExitCode } from './io.js';
export { buildScanRequest, type ScanFlags } from './scan-request.js';
export { buildBulkRequest, buildScheduleRequest, type BulkFlags, type ScheduleFlags, type SelectorFlags } from './bulk-request.js';
