import { spawn, type SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../services/cli.js', import.meta.url));
/** The seed's commands as package.json's `bin` installs them (launchers of services/*.ts). */
export const MOUNT_BUCKET = fileURLToPath(new URL('../../bin/mount-bucket.js', import.meta.url));
export const UNMOUNT_BUCKET = fileURLToPath(
  new URL('../../bin/unmount-bucket.js', import.meta.url),
);

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `bucketspace <args>` as a user would, in a child process, with only the given environment (plus PATH/HOME). */
export function runCli(
  args: string[],
  env: Record<string, string>,
  options: {
    uid?: number;
    gid?: number;
    cwd?: string;
    timeoutMs?: number;
    /** Another entry file (a bin such as services/mount-bucket.ts). */
    script?: string;
  } = {},
): Promise<CliResult> {
  const spawnOptions: SpawnOptions = {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: options.cwd,
    ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid } : {}),
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [options.script ?? CLI, ...args], spawnOptions);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The `--json` summary printed on stdout. */
export function summaryOf(res: CliResult): Record<string, unknown> & {
  uploaded: number;
  deleted: number;
  skipped: number;
  failed: number;
  unchanged: number;
  downloaded: number;
  bytes: number;
  seconds: number;
  failures: { path: string; code: string; message: string }[];
  refusals: { rule: string; message: string }[];
  overridden: { rule: string }[];
  skips: { path: string; reason: string; message: string }[];
  keptWorkspaces: string[];
  trashed: { workspace: string; entry: string; objects: number; bytes: number }[];
  purged: { workspace: string; entry: string; objects: number }[];
} {
  const line = res.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as ReturnType<typeof summaryOf>;
  } catch {
    throw new Error(
      `no JSON summary on stdout (exit ${res.code}).\nstdout: ${res.stdout}\nstderr: ${res.stderr}`,
    );
  }
}
