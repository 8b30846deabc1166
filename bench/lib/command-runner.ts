import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeakRssSampler } from './peak-rss.ts';
import { killGroup, type ProcessCleanup } from './process-cleanup.ts';

export interface CommandSpec {
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface MeasuredRun {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Wall-clock time from spawn to exit. */
  seconds: number;
  /** Peak resident set size of the measured process, KiB. */
  peakRssKiB: number | undefined;
  /** CPU time (user + system) of the measured process, from GNU time; undefined without it. */
  cpuSeconds: number | undefined;
  stdout: string;
  /** The last part of stderr, for error messages. */
  stderrTail: string;
}

const GNU_TIME = '/usr/bin/time';
const STDOUT_LIMIT = 4 * 1024 * 1024;
const STDERR_TAIL = 16 * 1024;

function hasGnuTime(): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(GNU_TIME, ['-f', '%M', '-o', '/dev/null', 'true'], { timeout: 5_000 }, (err) =>
      resolve(err === null),
    );
  });
}

/**
 * Runs one command to completion and measures wall time and peak RSS. Peak
 * RSS comes from GNU time's %M (the kernel's exact ru_maxrss) when
 * /usr/bin/time exists, otherwise from polling /proc/<pid>/status VmHWM.
 * Commands must be the real program (process.execPath, rclone), never an
 * npm/npx wrapper, or the wrapper would be measured.
 */
export class CommandRunner {
  private readonly cleanup: ProcessCleanup;
  private readonly scratch: string;
  private readonly gnuTime: boolean;
  private runs = 0;

  private constructor(cleanup: ProcessCleanup, scratch: string, gnuTime: boolean) {
    this.cleanup = cleanup;
    this.scratch = scratch;
    this.gnuTime = gnuTime;
  }

  static async create(cleanup: ProcessCleanup): Promise<CommandRunner> {
    const scratch = await mkdtemp(join(tmpdir(), 'bucketspace-bench-run-'));
    cleanup.defer(() => rm(scratch, { recursive: true, force: true }));
    return new CommandRunner(cleanup, scratch, await hasGnuTime());
  }

  get rssMethod(): string {
    return this.gnuTime ? 'GNU time %M (max RSS)' : '/proc/<pid>/status VmHWM, polled every 20 ms';
  }

  async run(spec: CommandSpec, timeoutMs: number): Promise<MeasuredRun> {
    this.runs += 1;
    const rssFile = join(this.scratch, `rss-${this.runs}.txt`);
    const [command, args] = this.gnuTime
      ? [GNU_TIME, ['-f', '%U %S\n%M', '-o', rssFile, spec.command, ...spec.args]]
      : [spec.command, [...spec.args]];
    const started = performance.now();
    const child = spawn(command, args, {
      env: spec.env,
      cwd: spec.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.cleanup.track(child);
    const sampler =
      !this.gnuTime && child.pid !== undefined ? new PeakRssSampler(child.pid) : undefined;
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < STDOUT_LIMIT) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-STDERR_TAIL);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGKILL');
    }, timeoutMs);
    const { code, signal } = await new Promise<{
      code: number | null;
      signal: NodeJS.Signals | null;
    }>((resolve) => {
      child.once('error', (err) => {
        stderr += `\n${err.message}`;
        resolve({ code: null, signal: null });
      });
      child.once('close', (c, s) => resolve({ code: c, signal: s }));
    });
    clearTimeout(timer);
    const seconds = (performance.now() - started) / 1000;
    const measured = sampler
      ? { peakRssKiB: await sampler.stop(), cpuSeconds: undefined }
      : await readGnuTime(rssFile);
    return { exitCode: code, signal, timedOut, seconds, ...measured, stdout, stderrTail: stderr };
  }
}

/** GNU time's two last lines: `%U %S` (CPU seconds) and `%M` (peak RSS, KiB). */
async function readGnuTime(
  file: string,
): Promise<{ peakRssKiB: number | undefined; cpuSeconds: number | undefined }> {
  try {
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    const rss = Number(lines[lines.length - 1]);
    const cpu = (lines[lines.length - 2] ?? '').split(' ').map(Number);
    const [user, system] = cpu;
    return {
      peakRssKiB: Number.isFinite(rss) ? rss : undefined,
      cpuSeconds:
        cpu.length === 2 &&
        user !== undefined &&
        system !== undefined &&
        Number.isFinite(user + system)
          ? user + system
          : undefined,
    };
  } catch {
    return { peakRssKiB: undefined, cpuSeconds: undefined };
  }
}

/** One line saying how a failed run ended, with the tail of its stderr. */
export function describeFailure(label: string, run: MeasuredRun): string {
  const how = run.timedOut
    ? 'timed out'
    : run.signal
      ? `was killed by ${run.signal}`
      : `exited with code ${run.exitCode}`;
  const tail = run.stderrTail.trim().split('\n').slice(-15).join('\n    ');
  return `${label} ${how} after ${run.seconds.toFixed(1)} s${tail ? `; stderr:\n    ${tail}` : ''}`;
}
