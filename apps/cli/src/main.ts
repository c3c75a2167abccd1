import { run } from './program.js';

// A reader that stops early (`scanq bulk ls | head`) closes the pipe: stop quietly, as Unix tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

// `scanq …`: the exit code says succeeded (0), scan failed (1), bad input (2), API unreachable or other error (3).
const code = await run(process.argv.slice(2), {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  isTTY: process.stdout.isTTY === true,
  env: process.env,
});
// Let stdout drain (piped output) before leaving.
process.exitCode = code;
