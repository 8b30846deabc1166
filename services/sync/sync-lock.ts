import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { BucketspaceError, systemErrorCode } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';

/** Who holds the lock: written into it, read by the run it turns away. */
export interface LockHolder {
  pid: number;
  host: string;
  /** e.g. `sync watch`. */
  command: string;
  workspacesDir: string;
  /** ISO time. */
  since: string;
}

export interface SyncLockOptions {
  /** The remote's state directory (SyncState.dir). */
  dir: string;
  holder: Omit<LockHolder, 'since' | 'host' | 'pid'>;
  now: Date;
  logger: Logger;
  /** Whether a process runs (injectable for tests); default: signal 0. */
  isAlive?: (pid: number) => boolean;
}

const LOCK_FILE = 'sync.lock';

/**
 * One sync at a time per bucket (and state directory): two runs at once
 * would upload the same files twice, race on deletes and overwrite each
 * other's state. The lock is a file created exclusively (`O_EXCL`) holding
 * the holder's pid, host and command; a lock whose process is gone (same
 * host, pid not running) is stale and taken over. A state directory that
 * cannot hold the lock (read-only, full) does not stop the sync: it says so
 * and runs without one, as it runs without state.
 */
export class SyncLock {
  readonly path: string;
  readonly #logger: Logger;

  private constructor(path: string, logger: Logger) {
    this.path = path;
    this.#logger = logger;
  }

  static async acquire(options: SyncLockOptions): Promise<SyncLock | undefined> {
    const path = join(options.dir, LOCK_FILE);
    const holder: LockHolder = {
      pid: process.pid,
      host: hostname(),
      ...options.holder,
      since: options.now.toISOString(),
    };
    const isAlive = options.isAlive ?? processIsAlive;
    for (let attempt = 0; attempt < 2; attempt++) {
      let file;
      try {
        await mkdir(options.dir, { recursive: true });
        file = await open(path, 'wx', 0o644);
      } catch (err) {
        if (systemErrorCode(err) !== 'EEXIST') {
          options.logger.warn(
            { err, path },
            'cannot take the sync lock (the state directory is not writable); running without it',
          );
          return undefined;
        }
        const other = await readHolder(path);
        if (other !== undefined && other.host === holder.host && !isAlive(other.pid)) {
          options.logger.info(
            { path, stale: other },
            'removed a stale sync lock (its process is gone)',
          );
          await rm(path, { force: true });
          continue;
        }
        throw heldError(path, other);
      }
      try {
        await file.writeFile(JSON.stringify(holder));
      } catch (err) {
        // The lock is ours (the file exists); only who holds it could not be written down.
        options.logger.warn({ err, path }, 'could not write who holds the sync lock (disk full?)');
      } finally {
        await file.close();
      }
      return new SyncLock(path, options.logger);
    }
    throw heldError(path, await readHolder(path));
  }

  async release(): Promise<void> {
    await rm(this.path, { force: true }).catch((err: unknown) =>
      this.#logger.warn({ err, path: this.path }, 'could not remove the sync lock'),
    );
  }
}

async function readHolder(path: string): Promise<LockHolder | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<LockHolder>;
    return typeof parsed.pid === 'number' && typeof parsed.host === 'string'
      ? (parsed as LockHolder)
      : undefined;
  } catch {
    return undefined;
  }
}

function heldError(path: string, holder: LockHolder | undefined): BucketspaceError {
  const who =
    holder === undefined
      ? 'a sync whose details could not be read'
      : `\`${holder.command}\` (pid ${holder.pid} on ${holder.host}, since ${holder.since}, WORKSPACES_DIR ${holder.workspacesDir})`;
  return new BucketspaceError(
    'CONFLICT',
    `another sync of this bucket is running: ${who}. Wait for it to finish or stop it; if no such process runs any more, delete ${path}`,
    { details: { path, holder } },
  );
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return systemErrorCode(err) === 'EPERM';
  }
}
