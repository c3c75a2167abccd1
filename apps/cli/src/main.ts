import { run } from './program.js';

// `scanq …`: the exit code says succeeded (0), scan failed (1), bad input (2), API unreachable or other error (3).
const code = await run(process.argv.slice(2), {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  isTTY: process.stdout.isTTY === true,
  env: process.env,
});
// Let stdout drain (piped output) before leaving.
process.exitCode = code;
