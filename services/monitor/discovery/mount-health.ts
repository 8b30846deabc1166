import type { Dirent, Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage, systemErrorCode } from '../../common/errors.ts';
import type { Clock } from '../../common/clock.ts';

export type RootProbe = { ok: true; entries: Dirent[] } | { ok: false; reason: string };

export interface MountRootOptions {
  root: string;
  clock: Clock;
  /** A root that answers nothing for this long is a hung mount. */
  timeoutMs: number;
  /** Refuse a root on the same filesystem as its parent: the bucket is not mounted. */
  expectMountPoint: boolean;
}

/**
 * The workspaces root: checks it and lists it. Any error here makes the
 * whole mount unavailable, with a reason saying what is wrong and how to fix
 * it; an error inside one workspace never does.
 */
export class MountRoot {
  readonly #options: MountRootOptions;
  /** A listing still waiting on a hung mount is joined, not repeated: each would hold a thread. */
  #inFlight: Promise<Listing> | undefined;

  constructor(options: MountRootOptions) {
    this.#options = options;
  }

  async probe(): Promise<RootProbe> {
    const { root, clock, timeoutMs } = this.#options;
    this.#inFlight ??= listRoot(root).finally(() => {
      this.#inFlight = undefined;
    });
    const answer = await withTimeout(this.#inFlight, clock, timeoutMs);
    if (answer === 'timeout') {
      return {
        ok: false,
        reason: `${root}: no answer within ${formatMs(timeoutMs)} — the mount hangs (its FUSE process is stuck); check the mount's logs and restart it`,
      };
    }
    if (answer.kind === 'error') return { ok: false, reason: describeRootError(root, answer.err) };
    if (!answer.stats.isDirectory()) {
      return {
        ok: false,
        reason: `${root}: not a directory — set WORKSPACES_MOUNT to the directory the bucket is mounted at`,
      };
    }
    if (this.#options.expectMountPoint) {
      const problem = await notMountedProblem(root, answer.stats);
      if (problem !== undefined) return { ok: false, reason: problem };
    }
    return { ok: true, entries: answer.entries };
  }
}

async function notMountedProblem(root: string, stats: Stats): Promise<string | undefined> {
  const parent = path.dirname(root);
  if (parent === root) return undefined;
  let parentStats: Stats;
  try {
    parentStats = await stat(parent);
  } catch (err) {
    return describeRootError(parent, err);
  }
  if (parentStats.dev !== stats.dev) return undefined;
  return `${root}: not a mount point (same filesystem as ${parent}) — the bucket is not mounted there; start the mount`;
}

type Listing = { kind: 'ok'; stats: Stats; entries: Dirent[] } | { kind: 'error'; err: unknown };

async function listRoot(root: string): Promise<Listing> {
  try {
    const stats = await stat(root);
    if (!stats.isDirectory()) return { kind: 'ok', stats, entries: [] };
    return { kind: 'ok', stats, entries: await readdir(root, { withFileTypes: true }) };
  } catch (err) {
    return { kind: 'error', err };
  }
}

const FIXES: Record<string, string> = {
  ENOTCONN:
    'Transport endpoint is not connected (ENOTCONN) — the FUSE mount died; restart the mount, or run "fusermount -uz {root}" and mount again',
  ECONNABORTED:
    'connection aborted (ECONNABORTED) — the FUSE mount died; restart the mount, or run "fusermount -uz {root}" and mount again',
  EIO: "input/output error (EIO) — the mount cannot reach the bucket or is failing; check the mount's logs and the S3 endpoint",
  ESTALE: 'stale file handle (ESTALE) — the mount lost its backing store; unmount and mount again',
  EACCES:
    'permission denied (EACCES) — the monitor may not read the mount; mount with --allow-other (rclone) or -o allow_other (s3fs), or run the monitor as the mount owner',
  EPERM:
    'operation not permitted (EPERM) — the monitor may not read the mount; mount with --allow-other (rclone) or -o allow_other (s3fs), or run the monitor as the mount owner',
  ENOENT:
    'does not exist (ENOENT) — mount the bucket there, or set WORKSPACES_MOUNT to where it is mounted',
  ENOTDIR:
    'not a directory (ENOTDIR) — set WORKSPACES_MOUNT to the directory the bucket is mounted at',
};

/** What a failure on the root means, and how to fix it. */
export function describeRootError(root: string, err: unknown): string {
  const code = systemErrorCode(err);
  const fix = code === undefined ? undefined : FIXES[code];
  if (fix !== undefined) return `${root}: ${fix.replaceAll('{root}', root)}`;
  return `${root}: ${code ?? errorMessage(err)} — the mount looks broken; check the mount's logs, and restart it`;
}

/** `work`, or `timeout` when it takes longer than `timeoutMs` on the clock (the work itself goes on). */
export async function withTimeout<T>(
  work: Promise<T>,
  clock: Clock,
  timeoutMs: number,
): Promise<T | 'timeout'> {
  let handle: unknown;
  const timeout = new Promise<'timeout'>((resolve) => {
    handle = clock.setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clock.clearTimeout(handle);
  }
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
