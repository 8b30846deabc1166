import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LaunchCommand, MountHost } from './types.ts';

export interface LaunchOutcome {
  ok: boolean;
  pid: number;
  /** Why it failed: the program's exit and the end of its log, or a timeout. */
  reason: string;
}

/**
 * Start the mount program detached (it outlives this process: decision 0005)
 * and wait until the mount answers a stat, the program exits, or the timeout.
 */
export async function launchMount(options: {
  host: MountHost;
  command: LaunchCommand;
  logFile: string;
  mountPoint: string;
  startTimeoutMs: number;
  statTimeoutMs: number;
}): Promise<LaunchOutcome> {
  const { host, mountPoint } = options;
  const proc = await host.launch(options.command, options.logFile);
  const deadline = Date.now() + options.startTimeoutMs;
  for (;;) {
    const exit = proc.exited();
    if (exit !== undefined) {
      return {
        ok: false,
        pid: proc.pid,
        reason: `${options.command.file} stopped (${exit}): ${await logTail(options.logFile)}`,
      };
    }
    if (await host.isMounted(mountPoint)) {
      const stat = await host.statTimed(mountPoint, options.statTimeoutMs);
      if (stat.ok) return { ok: true, pid: proc.pid, reason: '' };
    }
    if (Date.now() >= deadline) {
      return {
        ok: false,
        pid: proc.pid,
        reason: `the mount did not answer within ${options.startTimeoutMs}ms (MOUNT_START_TIMEOUT): ${await logTail(options.logFile)}`,
      };
    }
    await sleep(100);
  }
}

/** The last few lines the mount program logged, on one line. */
export async function logTail(logFile: string, lines = 3): Promise<string> {
  try {
    const text = (await readFile(logFile, 'utf8')).trim();
    if (text === '') return 'nothing logged';
    return text.split('\n').slice(-lines).join(' | ');
  } catch {
    return 'no log';
  }
}

/**
 * Let a mount process end after its unmount; SIGTERM, then SIGKILL, if it
 * lingers (after a lazy unmount it serves open files until they close, so
 * the caller gives it little grace). Only a process that still serves this
 * mount point is signalled.
 */
export async function endMountProcess(
  host: MountHost,
  pid: number,
  mountPoint: string,
  graceMs = 5000,
): Promise<void> {
  if (!(await host.servesMount(pid, mountPoint))) return;
  for (const [waitMs, signal] of [
    [graceMs, 'SIGTERM'],
    [3000, 'SIGKILL'],
    [2000, undefined],
  ] as const) {
    const until = Date.now() + waitMs;
    while (Date.now() < until) {
      if (!host.pidAlive(pid)) return;
      await sleep(50);
    }
    if (signal === undefined) return;
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
  }
}
