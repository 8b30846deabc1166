import { spawn, type ChildProcess } from 'node:child_process';
import { PeakRssSampler, readRss } from './peak-rss.ts';
import { killGroup, type ProcessCleanup } from './process-cleanup.ts';

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export interface StopResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** From SIGTERM to exit. */
  seconds: number;
  /** True when it did not exit in time and was killed. */
  killed: boolean;
}

const WARN = 40;

/**
 * `bucketspace sync watch` (or another long-running `bucketspace` command:
 * `monitor`) as a child process. Its logs are pino JSON lines on stderr
 * (stderr is not a TTY here); the line `started watch` says the initial sync
 * is done and every watcher is ready.
 */
export class WatcherProcess {
  private readonly child: ChildProcess;
  private readonly rss: PeakRssSampler | undefined;
  private readonly lines: LogLine[] = [];
  private stderrTail = '';
  private partial = '';
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(options: {
    command: string;
    args: readonly string[];
    env: NodeJS.ProcessEnv;
    cleanup: ProcessCleanup;
  }) {
    this.child = spawn(options.command, options.args, {
      env: options.env,
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    options.cleanup.track(this.child);
    this.rss = this.child.pid !== undefined ? new PeakRssSampler(this.child.pid, 100) : undefined;
    this.exited = new Promise((resolve) => {
      this.child.once('error', () => resolve({ code: null, signal: null }));
      this.child.once('close', (code, signal) => resolve({ code, signal }));
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => this.onStderr(chunk));
  }

  /** Resolves once `message` is logged; rejects if the process exits first or time runs out. */
  async ready(timeoutMs: number, message = 'started watch'): Promise<number> {
    const started = performance.now();
    const deadline = started + timeoutMs;
    while (performance.now() < deadline) {
      if (this.lines.some((l) => l.msg === message)) return (performance.now() - started) / 1000;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(
          `the process exited (${this.child.exitCode ?? this.child.signalCode}) before "${message}":\n${this.stderrTail}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no "${message}" log line within ${timeoutMs / 1000} s:\n${this.stderrTail}`);
  }

  /** The first log line with this message. */
  first(msg: string): LogLine | undefined {
    return this.lines.find((l) => l.msg === msg);
  }

  /** Its resident set size now and its peak so far (KiB); undefined once it is gone. */
  memory(): Promise<{ nowKiB: number; peakKiB: number } | undefined> {
    return this.child.pid !== undefined ? readRss(this.child.pid) : Promise.resolve(undefined);
  }

  /** Log lines at warn level or above. */
  get warnings(): LogLine[] {
    return this.lines.filter((l) => l.level >= WARN);
  }

  count(msg: string): number {
    return this.lines.filter((l) => l.msg === msg).length;
  }

  /** SIGTERM, then wait up to `timeoutMs` for the exit; SIGKILL after that. */
  async stop(timeoutMs: number): Promise<StopResult & { peakRssKiB: number | undefined }> {
    const peakRssKiB = await this.rss?.stop();
    const started = performance.now();
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const first = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (first === 'timeout') {
      killGroup(this.child, 'SIGKILL');
      const after = await this.exited;
      return {
        exitCode: after.code,
        signal: after.signal,
        seconds: (performance.now() - started) / 1000,
        killed: true,
        peakRssKiB,
      };
    }
    return {
      exitCode: first.code,
      signal: first.signal,
      seconds: (performance.now() - started) / 1000,
      killed: false,
      peakRssKiB,
    };
  }

  private onStderr(chunk: string): void {
    this.stderrTail = (this.stderrTail + chunk).slice(-8 * 1024);
    const text = this.partial + chunk;
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const part of parts) {
      const line = parseLogLine(part);
      if (line) this.lines.push(line);
    }
  }
}

function parseLogLine(text: string): LogLine | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null) return undefined;
    const v = value as Record<string, unknown>;
    if (typeof v.level !== 'number' || typeof v.msg !== 'string') return undefined;
    return { ...v, level: v.level, msg: v.msg };
  } catch {
    return undefined;
  }
}
