import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { TestS3 } from './s3-server.ts';
import { eventually } from './watch-process.ts';

export const RCLONE = '/usr/bin/rclone';

/** A real `rclone mount` of one bucket of the test S3 server, read-only. */
export interface RcloneMount {
  readonly dir: string;
  readonly process: ChildProcess;
  /** kill -9: the FUSE mount stays behind, dead (ENOTCONN). */
  kill(): Promise<void>;
  /**
   * SIGSTOP, resolved once every thread of rclone has stopped: until then it
   * may still answer a request made after the signal was sent.
   */
  stop(): Promise<void>;
  /** SIGCONT. */
  resume(): void;
  /** Kill if alive and unmount (lazily, so a dead mount goes too). Safe to call twice. */
  close(): Promise<void>;
}

/** The state letter of each thread of a process (`/proc/<pid>/task/<tid>/stat`), T when stopped. */
function threadStates(pid: number): string[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  });
}

/** Why FUSE mounts cannot run here, or undefined when they can. */
export function fuseMissing(): string | undefined {
  if (!existsSync(RCLONE)) return `${RCLONE} not found: apt-get install -y rclone fuse3`;
  if (!existsSync('/dev/fuse')) return '/dev/fuse not found: FUSE is not available';
  if (spawnSync('fusermount', ['-V']).error !== undefined)
    return 'fusermount not found: apt-get install -y fuse3';
  return undefined;
}

export function isMounted(dir: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === dir);
}

/**
 * Mounts `bucket` at `dir` with rclone, the remote configured through
 * RCLONE_CONFIG_* variables; rclone runs without AWS_CA_BUNDLE (rclone 1.60
 * fails to load it even for http endpoints). The directory cache is short so
 * changes made in S3 show within a second or two.
 */
export async function mountBucket(options: {
  s3: TestS3;
  bucket: string;
  dir: string;
  dirCacheTime?: string;
  /** How long the kernel keeps attributes (rclone's default 1s; 0s: always ask rclone). */
  attrTimeout?: string;
  /** rclone's remote control on 127.0.0.1:<port>, with these credentials (as the mount image runs it). */
  rc?: { port: number; user: string; pass: string };
  /** More `rclone mount` flags (e.g. --allow-other for containers, --vfs-cache-mode). */
  extraArgs?: readonly string[];
}): Promise<RcloneMount> {
  const env: Record<string, string | undefined> = { ...process.env };
  delete env.AWS_CA_BUNDLE;
  Object.assign(env, {
    RCLONE_CONFIG_BSTEST_TYPE: 's3',
    RCLONE_CONFIG_BSTEST_PROVIDER: 'Other',
    RCLONE_CONFIG_BSTEST_ENDPOINT: options.s3.endpoint,
    RCLONE_CONFIG_BSTEST_REGION: options.s3.region,
    RCLONE_CONFIG_BSTEST_ACCESS_KEY_ID: options.s3.accessKeyId,
    RCLONE_CONFIG_BSTEST_SECRET_ACCESS_KEY: options.s3.secretAccessKey,
    RCLONE_CONFIG_BSTEST_FORCE_PATH_STYLE: 'true',
  });
  if (options.rc)
    Object.assign(env, { RCLONE_RC_USER: options.rc.user, RCLONE_RC_PASS: options.rc.pass });
  const rcArgs = options.rc ? ['--rc', '--rc-addr', `127.0.0.1:${options.rc.port}`] : [];
  const child = spawn(
    RCLONE,
    [
      'mount',
      `bstest:${options.bucket}`,
      options.dir,
      '--read-only',
      '--dir-cache-time',
      options.dirCacheTime ?? '1s',
      ...(options.attrTimeout === undefined ? [] : ['--attr-timeout', options.attrTimeout]),
      '--config',
      '/dev/null',
      ...rcArgs,
      ...(options.extraArgs ?? []),
    ],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = once(child, 'exit');
  const mount: RcloneMount = {
    dir: options.dir,
    process: child,
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (!child.kill('SIGSTOP')) throw new Error('rclone is not running');
      await eventually(
        'every rclone thread stopped',
        () => Promise.resolve(threadStates(child.pid as number).every((state) => state === 'T')),
        10_000,
      );
    },
    resume: () => {
      child.kill('SIGCONT');
    },
    close: async () => {
      await mount.kill();
      if (isMounted(options.dir)) spawnSync('fusermount', ['-uz', options.dir]);
    },
  };
  const up = () => child.exitCode === null && isMounted(options.dir);
  try {
    await eventually(
      'rclone mount is up (or rclone gone)',
      () => Promise.resolve(up() || child.exitCode !== null),
      30_000,
    );
    if (!up()) throw new Error(`rclone exited with ${child.exitCode}`);
  } catch (err) {
    await mount.close();
    throw new Error(`rclone mount failed: ${String(err)}\n${stderr}`, { cause: err });
  }
  return mount;
}
