import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { mkdir, open, readdir, readFile, readlink, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BucketspaceError, errorMessage, systemErrorCode } from '../common/errors.ts';
import { isInside } from './link-plan.ts';
import { parseMacMount, parseMountinfo, type MountEntry } from './mount-table.ts';
import { fuseInstallHint, unmountCommand, type PlatformKind } from './platform-defaults.ts';
import type { LaunchCommand, LaunchedProcess, MountHost, StatResult } from './types.ts';

export interface FuseHostOptions {
  kind: PlatformKind;
  /** PATH to find rclone, s3fs, fusermount, stat and umount on. */
  path: string;
  /** The FUSE device to require on Linux. */
  fuseDevice?: string;
}

interface ExecResult {
  code: number | string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** The real machine: FUSE, the mount table, processes. Linux (fusermount) and macOS (macFUSE). */
export class FuseHost implements MountHost {
  private readonly options: FuseHostOptions;

  constructor(options: FuseHostOptions) {
    this.options = options;
  }

  /** The first executable `name` on PATH, or undefined. */
  findProgram(name: string): string | undefined {
    for (const dir of this.options.path.split(':')) {
      if (dir === '') continue;
      const candidate = join(dir, name);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
    return undefined;
  }

  private fusermount(): string | undefined {
    return this.findProgram('fusermount3') ?? this.findProgram('fusermount');
  }

  checkCanMount(program: string, installHint: string): void {
    const { kind } = this.options;
    if (kind === 'unsupported') {
      throw new BucketspaceError('MOUNT_UNAVAILABLE', 'mounting buckets needs Linux or macOS');
    }
    if (!this.findProgram(program)) {
      throw new BucketspaceError(
        'TOOL_MISSING',
        `${program} is not installed (not found on PATH): ${installHint}`,
        { details: { program } },
      );
    }
    if (kind === 'macos') {
      const fs = ['/Library/Filesystems/macfuse.fs', '/Library/Filesystems/osxfuse.fs'];
      if (!fs.some((p) => existsSync(p))) {
        throw new BucketspaceError(
          'MOUNT_UNAVAILABLE',
          `macFUSE is missing: ${fuseInstallHint(kind)}`,
        );
      }
      return;
    }
    if (!this.fusermount()) {
      throw new BucketspaceError(
        'TOOL_MISSING',
        'fusermount is not installed (neither fusermount3 nor fusermount on PATH): install fuse3 (apt-get install fuse3)',
        { details: { program: 'fusermount' } },
      );
    }
    const device = this.options.fuseDevice ?? '/dev/fuse';
    if (!existsSync(device)) {
      throw new BucketspaceError(
        'MOUNT_UNAVAILABLE',
        `${device} is missing, so FUSE cannot mount here: ${fuseInstallHint(kind)}`,
        { details: { device } },
      );
    }
  }

  private async mountTable(): Promise<MountEntry[]> {
    if (this.options.kind === 'macos') {
      const res = await this.exec('mount', [], 10_000);
      return parseMacMount(res.stdout);
    }
    return parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'));
  }

  /** The path as the mount table spells it; the last component is never looked up (it may be a dead mount). */
  private async canonical(path: string): Promise<string> {
    try {
      return join(await realpath(dirname(path)), basename(path));
    } catch {
      return path;
    }
  }

  async isMounted(path: string): Promise<boolean> {
    const want = await this.canonical(path);
    return (await this.mountTable()).some((e) => e.mountPoint === want);
  }

  async statTimed(path: string, timeoutMs: number): Promise<StatResult> {
    const res = await this.exec('stat', [path], timeoutMs);
    if (res.timedOut) {
      return { ok: false, reason: `stat did not answer within ${timeoutMs}ms (the mount hangs)` };
    }
    if (res.code === 0) return { ok: true };
    const last = res.stderr.trim().split('\n').pop() ?? '';
    return { ok: false, reason: last !== '' ? last : `stat exited with ${String(res.code)}` };
  }

  async unmount(path: string, options: { lazy: boolean }): Promise<void> {
    const fusermount = this.fusermount() ?? 'fusermount';
    const cmd = unmountCommand(this.options.kind, path, { lazy: options.lazy, fusermount });
    const res = await this.exec(cmd.file, cmd.args, 30_000);
    if (res.code === 0) return;
    const said = res.stderr.trim() || res.stdout.trim() || `exit ${String(res.code)}`;
    const busy = options.lazy ? [] : await this.busyProcesses(path);
    if (busy.length > 0) throw busyError(path, busy);
    throw new BucketspaceError('MOUNT_FAILED', `could not unmount ${path}: ${said}`, {
      details: { path, command: [cmd.file, ...cmd.args].join(' ') },
    });
  }

  async busyProcesses(path: string): Promise<{ pid: number; command: string }[]> {
    if (this.options.kind === 'macos' || this.options.kind === 'unsupported') return [];
    const target = await this.canonical(path);
    const out: { pid: number; command: string }[] = [];
    const pids = (await readdir('/proc')).filter((d) => /^\d+$/.test(d));
    for (const pid of pids) {
      if (await this.usesPath(`/proc/${pid}`, target)) {
        const command = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '?');
        out.push({ pid: Number(pid), command: command.trim() });
      }
    }
    return out;
  }

  private async usesPath(proc: string, target: string): Promise<boolean> {
    const inside = async (link: string) => {
      try {
        return isInside(await readlink(link), target);
      } catch {
        return false;
      }
    };
    if ((await inside(`${proc}/cwd`)) || (await inside(`${proc}/root`))) return true;
    let fds: string[];
    try {
      fds = await readdir(`${proc}/fd`);
    } catch {
      return false;
    }
    for (const fd of fds) if (await inside(`${proc}/fd/${fd}`)) return true;
    return false;
  }

  pidAlive(pid: number): boolean {
    try {
      process.kill(pid, 0);
    } catch (err) {
      return systemErrorCode(err) === 'EPERM';
    }
    if (this.options.kind === 'macos') return true;
    try {
      // A zombie (exited, not yet reaped by its parent) is not alive.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return false;
    }
  }

  async servesMount(pid: number, mountPoint: string): Promise<boolean> {
    if (!this.pidAlive(pid)) return false;
    if (this.options.kind === 'macos') {
      const res = await this.exec('ps', ['-o', 'command=', '-p', String(pid)], 10_000);
      return res.stdout.includes(mountPoint);
    }
    try {
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      return argv.includes(mountPoint);
    } catch {
      return false;
    }
  }

  async launch(cmd: LaunchCommand, logFile: string): Promise<LaunchedProcess> {
    await mkdir(dirname(logFile), { recursive: true, mode: 0o700 });
    const log = await open(logFile, 'w', 0o600);
    try {
      const child = spawn(cmd.file, cmd.args, {
        env: cmd.env,
        detached: true,
        stdio: ['ignore', log.fd, log.fd],
      });
      let exit: string | undefined;
      child.on('exit', (code, signal) => {
        exit = code !== null ? `exit code ${code}` : `signal ${signal ?? '?'}`;
      });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      }).catch((err: unknown) => {
        throw new BucketspaceError(
          systemErrorCode(err) === 'ENOENT' ? 'TOOL_MISSING' : 'MOUNT_FAILED',
          `could not start ${cmd.file}: ${errorMessage(err)}`,
          { cause: err },
        );
      });
      child.unref();
      const pid = child.pid;
      if (pid === undefined) throw new BucketspaceError('MOUNT_FAILED', `${cmd.file} has no pid`);
      return { pid, exited: () => exit };
    } finally {
      await log.close();
    }
  }

  private exec(file: string, args: string[], timeoutMs: number): Promise<ExecResult> {
    return new Promise((resolve) => {
      execFile(
        file,
        args,
        {
          timeout: timeoutMs,
          killSignal: 'SIGKILL',
          env: { PATH: this.options.path, LC_ALL: 'C' },
        },
        (err, stdout, stderr) => {
          const e = err as (Error & { code?: number | string; killed?: boolean }) | null;
          resolve({
            code: e ? (e.code ?? null) : 0,
            stdout,
            stderr: e && stderr === '' ? e.message : stderr,
            timedOut: e?.killed === true,
          });
        },
      );
    });
  }
}

export function busyError(
  path: string,
  busy: { pid: number; command: string }[],
): BucketspaceError {
  const who = busy
    .slice(0, 5)
    .map((b) => `${b.command} (pid ${b.pid})`)
    .join(', ');
  return new BucketspaceError(
    'MOUNT_BUSY',
    `${path} is busy: ${who}${busy.length > 5 ? ` and ${busy.length - 5} more` : ''} ha${busy.length === 1 ? 's' : 've'} files or a working directory in it; close them, or use --force for a lazy unmount`,
    { retryable: true, details: { path, pids: busy.map((b) => b.pid) } },
  );
}
