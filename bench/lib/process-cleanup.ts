import type { ChildProcess } from 'node:child_process';

export type CleanupTask = () => Promise<void> | void;

/** How long one cleanup task may take before it is given up on. */
const TASK_TIMEOUT_MS = 15_000;

/**
 * Owns every child process and resource a benchmark starts, so that a normal
 * exit, an error or Ctrl-C leaves nothing running. Children are spawned in
 * their own process group (`detached: true`) and killed as a group, so a
 * wrapper such as /usr/bin/time never leaves its child behind.
 */
export class ProcessCleanup {
  private readonly children = new Set<ChildProcess>();
  private readonly tasks: CleanupTask[] = [];
  private wasInterrupted = false;

  /** Wire Ctrl-C, SIGTERM and process exit to the cleanup. Call once, in main. */
  install(): void {
    process.once('exit', () => this.killAll('SIGKILL'));
    process.once('SIGINT', () => void this.interrupt('SIGINT', 130));
    process.once('SIGTERM', () => void this.interrupt('SIGTERM', 143));
  }

  /** True once Ctrl-C or SIGTERM arrived: failures after that are the interruption, not findings. */
  get interrupted(): boolean {
    return this.wasInterrupted;
  }

  track(child: ChildProcess): void {
    if (child.exitCode !== null || child.signalCode !== null) return;
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
  }

  /** Run `task` at cleanup time; tasks run last-registered first. */
  defer(task: CleanupTask): void {
    this.tasks.push(task);
  }

  /** Kill what is still running, then run the deferred tasks. */
  async run(): Promise<void> {
    this.killAll('SIGKILL');
    for (let task = this.tasks.pop(); task !== undefined; task = this.tasks.pop()) {
      try {
        await withTimeout(Promise.resolve(task()), TASK_TIMEOUT_MS);
      } catch (err) {
        process.stderr.write(`cleanup step failed: ${String(err)}\n`);
      }
    }
  }

  private killAll(signal: NodeJS.Signals): void {
    for (const child of this.children) killGroup(child, signal);
  }

  private async interrupt(signal: NodeJS.Signals, exitCode: number): Promise<void> {
    if (this.wasInterrupted) process.exit(exitCode);
    this.wasInterrupted = true;
    process.stderr.write(
      `\n${signal}: stopping child processes and cleaning up (again to force)\n`,
    );
    process.once(signal, () => process.exit(exitCode));
    await this.run();
    process.exit(exitCode);
  }
}

/** Signal a child's whole process group (it must have been spawned with `detached: true`). */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  }
}

export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
