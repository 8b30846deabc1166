import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { CLI } from './run-cli.ts';

export type LogLine = Record<string, unknown>;

/** A long-running `bucketspace ...` child process with its JSON log lines collected. */
export interface CliProcess {
  child: ChildProcess;
  lines: () => LogLine[];
  output: () => string;
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
}

export interface StartCliOptions {
  args: string[];
  env: Record<string, string>;
  /** The `msg` of the log line that says the process is ready. */
  readyMessage: string;
  readyTimeoutMs?: number;
  /**
   * Run this program instead of `node services/cli.js <args>` (e.g. `docker run ...`
   * of the CLI in a container); its output is read the same way.
   */
  command?: { file: string; argv: string[] };
  /** How `stop(signal)` signals it (default: the child process itself). */
  signal?: (signal: NodeJS.Signals) => void;
}

export async function startCliProcess(options: StartCliOptions): Promise<CliProcess> {
  const { file, argv } = options.command ?? {
    file: process.execPath,
    argv: [CLI, ...options.args],
  };
  const child = spawn(file, argv, {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      LOG_LEVEL: 'debug',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const send = options.signal ?? ((signal: NodeJS.Signals) => child.kill(signal));
  const parsed: LogLine[] = [];
  let buffer = '';
  let raw = '';
  const onData = (chunk: string) => {
    raw += chunk;
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        parsed.push(JSON.parse(line) as LogLine);
      } catch {
        parsed.push({ msg: line });
      }
    }
  };
  child.stderr.setEncoding('utf8').on('data', onData);
  child.stdout.setEncoding('utf8').on('data', onData);
  const proc: CliProcess = {
    child,
    lines: () => parsed,
    output: () => raw,
    async waitForLog(predicate, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let seen = 0;
      while (Date.now() < deadline) {
        for (; seen < parsed.length; seen++) {
          const line = parsed[seen];
          if (line && predicate(line)) return line;
        }
        if (child.exitCode !== null) {
          throw new Error(
            `${options.args.join(' ')} exited with ${child.exitCode}:\n${raw.slice(-4000)}`,
          );
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(
        `log line not seen within ${timeoutMs}ms; output so far:\n${raw.slice(-4000)}`,
      );
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null)
        return { code: child.exitCode, ms: 0 };
      const t0 = Date.now();
      const exited = once(child, 'exit');
      send(signal);
      const timer = setTimeout(() => send('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
      return { code: child.exitCode, ms: Date.now() - t0 };
    },
  };
  await proc.waitForLog((l) => l.msg === options.readyMessage, options.readyTimeoutMs);
  return proc;
}
