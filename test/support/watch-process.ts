import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { CLI } from './run-cli.ts';

/** `bucketspace sync watch` running in a child process, with its JSON log lines collected. */
export interface WatchProcess {
  child: ChildProcess;
  lines: () => Record<string, unknown>[];
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
}

export async function startWatch(env: Record<string, string>): Promise<WatchProcess> {
  const child = spawn(process.execPath, [CLI, 'sync', 'watch'], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      LOG_LEVEL: 'debug',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const parsed: Record<string, unknown>[] = [];
  let buffer = '';
  let raw = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    raw += chunk;
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        parsed.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        parsed.push({ msg: line });
      }
    }
  });
  child.stdout.resume();
  const proc: WatchProcess = {
    child,
    lines: () => parsed,
    async waitForLog(predicate, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let seen = 0;
      while (Date.now() < deadline) {
        for (; seen < parsed.length; seen++) {
          const line = parsed[seen];
          if (line && predicate(line)) return line;
        }
        if (child.exitCode !== null)
          throw new Error(`watch exited with ${child.exitCode}:\n${raw}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(
        `log line not seen within ${timeoutMs}ms; stderr so far:\n${raw.slice(-4000)}`,
      );
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null) return { code: child.exitCode, ms: 0 };
      const t0 = Date.now();
      const exited = once(child, 'exit');
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
      return { code: child.exitCode, ms: Date.now() - t0 };
    },
  };
  await proc.waitForLog((l) => l.msg === 'started watch');
  return proc;
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
