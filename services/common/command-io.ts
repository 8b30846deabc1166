/** What a command gets from `main`: its environment, output streams, stop signal and exit code. */
export interface CommandIo {
  env: Readonly<Record<string, string | undefined>>;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** Aborted when SIGINT/SIGTERM arrives (wired in main). */
  signal: AbortSignal;
  setExitCode(code: number): void;
}
