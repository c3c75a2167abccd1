/** Where the CLI writes and what it knows of its terminal (a test passes its own). */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
}

/** Exit codes scripts can switch on. */
export const ExitCode = {
  Ok: 0,
  /** A watched scan ended failed or cancelled. */
  ScanFailed: 1,
  /** The input was wrong: local validation, a usage error, or the API's 4xx about the request. */
  BadInput: 2,
  /** The API was unreachable, answered 5xx/404, or something else went wrong. */
  Error: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Ends a command with an exit code (thrown, caught once in run()); `error` is the machine-readable code --json prints. */
export class CliExit extends Error {
  constructor(
    readonly code: ExitCode,
    message = '',
    readonly error: string = code === ExitCode.BadInput ? 'bad_input' : 'error',
  ) {
    super(message);
  }
}
