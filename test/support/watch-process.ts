import { startCliProcess, type CliProcess } from './cli-process.ts';

/** `bucketspace sync watch` running in a child process, with its JSON log lines collected. */
export type WatchProcess = CliProcess;

export function startWatch(env: Record<string, string>): Promise<WatchProcess> {
  return startCliProcess({ args: ['sync', 'watch'], env, readyMessage: 'started watch' });
}

/** Poll until `check` returns true (or throw with `what` after the timeout). */
export async function eventually(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 15_000,
): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (await check().catch(() => false)) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for: ${what}`);
}
