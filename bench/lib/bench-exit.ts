import type { ProcessCleanup } from './process-cleanup.ts';

/** Exit codes of `npm run bench`. */
export const BENCH_EXIT = {
  /** Ran, every goal PASSed and every check held. */
  ok: 0,
  /** Ran, but a goal FAILed or a correctness check did not hold. */
  goalFailed: 1,
  /** Unknown benchmark or bad flags. */
  usage: 2,
  /** A prerequisite is missing (rclone not installed). */
  missingPrerequisite: 3,
  /** The benchmark could not finish (a tool crashed or timed out). */
  error: 4,
  interrupted: 130,
} as const;

/** A usage mistake: printed with the help text, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A missing prerequisite: printed as is, exit code 3. */
export class PrerequisiteError extends Error {
  override name = 'PrerequisiteError';
}

/** What bench/run.ts hands to a benchmark. */
export interface BenchIo {
  /** Results and progress. */
  out: NodeJS.WriteStream;
  /** Register child processes and teardown here; run.ts runs it after the benchmark, and on Ctrl-C. */
  cleanup: ProcessCleanup;
}

/** What every benchmark exports to bench/run.ts. */
export interface Benchmark {
  name: string;
  summary: string;
  usage: string;
  /** Returns an exit code (BENCH_EXIT); throws UsageError / PrerequisiteError. */
  run(args: string[], io: BenchIo): Promise<number>;
}
