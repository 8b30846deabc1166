import { randomBytes } from 'node:crypto';
import {
  closeSync,
  createWriteStream,
  fchmodSync,
  fstatSync,
  futimesSync,
  lstatSync,
  open,
  renameSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { chmod, lstat, mkdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { BucketspaceError, errorMessage, systemErrorCode } from '../../common/errors.ts';
import type { GetResult } from '../../common/s3/object-store.ts';
import { unsafePathProblem } from '../object-keys.ts';
import type { StateEntry } from '../types.ts';
import type { Transfer } from './transfer.ts';
import { IN_MEMORY_LIMIT } from './upload.ts';

export interface DownloadInput {
  /** The workspace's local root. */
  root: string;
  /** Where the object goes, relative to the root (POSIX). */
  relPath: string;
  key: string;
  /** ETag from the listing, used when the GET does not return one. */
  listedEtag: string;
  /** Size from the listing: a small object is taken into memory and written in a few synchronous calls. */
  listedSize?: number;
  /** Called with the local file about to be replaced, before it is (pull moves it to its backup). */
  beforeReplace?: (absPath: string) => Promise<void>;
  /**
   * Directories under the root already made or checked by this run's
   * downloads (shared by them): each is looked at once, not once per file.
   */
  checkedDirs?: DirectoryChecks;
}

/** How much of a streamed download may wait for the disk: the writes between are batched (writev). */
const STREAM_BUFFER = 1024 * 1024;

/** Temporary names: random per process, then counted (no draw per file), unique across processes. */
const TEMP_ID = randomBytes(6).toString('hex');
let tempCount = 0;

/** Permission bits a download may set from metadata: never setuid, setgid, sticky or world-writable. */
export const RESTORED_MODE_MASK = 0o775;

/**
 * Downloads one object into its workspace: into a temporary file next to the
 * target, then renamed over it, so a reader never sees half a file; the mode
 * (masked by RESTORED_MODE_MASK) and mtime stored as metadata are applied.
 * Never writes outside `root`: the path must be safe (unsafePathProblem),
 * resolve inside the root, and no directory on the way may be a symlink
 * (it is not followed, as a push never follows one). Returns the state entry
 * of the written file (what a following push compares against).
 *
 * Objects listed below IN_MEMORY_LIMIT are read into memory and written with
 * synchronous calls on one descriptor (write, mode, times, rename, stat): a
 * dozen thread-pool round trips per file cost more than the writing. Its
 * directory and temporary file are made on the thread pool while the GET is
 * on its way: creating a file or a directory is the slowest call of a small
 * download (most of a millisecond on this project's test machines), and the
 * event loop goes on serving the other transfers meanwhile.
 */
export async function downloadFile(transfer: Transfer, input: DownloadInput): Promise<StateEntry> {
  const target = targetInside(input.root, input.relPath);
  const tmp = join(dirname(target), `.${TEMP_ID}-${(tempCount++).toString(36)}.bucketspace-tmp`);
  const inMemory = input.listedSize !== undefined && input.listedSize < IN_MEMORY_LIMIT;
  const dirReady = ensureDirectoryInside(
    input.root,
    dirname(input.relPath),
    input.relPath,
    input.checkedDirs,
  );
  // A small object's directory and temporary file are made while its GET is on its way.
  let created = inMemory ? dirReady.then(() => createExclusive(tmp)) : undefined;
  created?.catch(() => undefined); // awaited below
  if (!inMemory) await dirReady;
  try {
    const res: GetResult & { body?: Buffer } = inMemory
      ? await transfer.store.getBytes({ key: input.key, signal: transfer.signal })
      : await transfer.store.get({
          key: input.key,
          writeTo: createWriteStream(tmp, { highWaterMark: STREAM_BUFFER }),
          signal: transfer.signal,
        });
    await dirReady; // nothing local is touched (no backup, no rename) through a refused directory
    // Only a caller that keeps what is replaced needs to look first; a rename onto a directory fails.
    const existing = input.beforeReplace && lstatSync(target, { throwIfNoEntry: false });
    if (existing?.isDirectory()) throw directoryInTheWay(input.relPath);
    if (existing) await input.beforeReplace?.(target);
    const mode = Number(res.metadata.mode);
    const restoredMode = Number.isInteger(mode) && mode > 0 ? mode & RESTORED_MODE_MASK : undefined;
    const seconds = Number(res.metadata.mtime);
    const mtime = Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000) : undefined;
    let st: Stats;
    try {
      if (res.body !== undefined) {
        const fd = await (created as Promise<number>);
        created = undefined; // writeWhole closes it
        st = writeWhole(fd, tmp, target, res.body, restoredMode, mtime);
      } else {
        await rename(tmp, target);
        if (restoredMode !== undefined) await chmod(target, restoredMode);
        if (mtime !== undefined) await utimes(target, new Date(), mtime);
        st = await stat(target);
      }
    } catch (err) {
      const code = systemErrorCode(err);
      if (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST')
        throw directoryInTheWay(input.relPath);
      throw err;
    }
    return {
      size: st.size,
      mtimeMs: st.mtimeMs,
      ctimeMs: st.ctimeMs,
      ino: st.ino,
      etag: res.etag || input.listedEtag,
    };
  } catch (err) {
    const fd = await created?.catch(() => undefined);
    if (fd !== undefined) closeSync(fd);
    await rm(tmp, { force: true });
    // A directory that cannot be written is the problem to report, whatever the GET did.
    throw (
      (await dirReady.then(
        () => undefined,
        (dirError: unknown) => dirError,
      )) ?? err
    );
  }
}

/**
 * Opens a new file for writing (never an existing one) on the thread pool.
 * A failure is kept for whoever awaits it, never reported as unhandled.
 */
function createExclusive(path: string): Promise<number> {
  const fd = new Promise<number>((resolve, reject) =>
    open(path, 'wx', (err, fd) => (err ? reject(err) : resolve(fd))),
  );
  fd.catch(() => undefined);
  return fd;
}

/**
 * Writes `bytes` to `fd` (`tmp`, just created), applies mode and mtime,
 * renames it over `target` and returns its stat — read after the rename,
 * which changes the ctime. Closes `fd`.
 */
function writeWhole(
  fd: number,
  tmp: string,
  target: string,
  bytes: Buffer,
  mode: number | undefined,
  mtime: Date | undefined,
): Stats {
  try {
    for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, bytes.length - at);
    if (mode !== undefined) fchmodSync(fd, mode);
    if (mtime !== undefined) futimesSync(fd, new Date(), mtime);
    renameSync(tmp, target);
    return fstatSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The absolute path of `relPath` under `root`, refused when it is unsafe or resolves outside. */
function targetInside(root: string, relPath: string): string {
  const problem = unsafePathProblem(relPath);
  const target = resolve(root, relPath);
  const rel = relative(resolve(root), target);
  if (problem !== undefined || rel === '' || rel.startsWith(`..${sep}`) || rel === '..') {
    throw new BucketspaceError(
      'LOCAL_INVALID_NAME',
      `${JSON.stringify(relPath)} would be written outside its workspace${problem === undefined ? '' : ` (it ${problem})`}; not written`,
      { details: { relPath } },
    );
  }
  return target;
}

/**
 * The directories of one run's downloads, each made or checked once: its
 * check, shared by the downloads into it.
 */
export type DirectoryChecks = Map<string, Promise<Made>>;

/** Whether a check created its directory (then nothing can be in the way inside it). */
type Made = boolean;

/** The directory checks of a new run. */
export function newDirectoryChecks(): DirectoryChecks {
  return new Map();
}

/**
 * Creates `relDir` under `root` one directory at a time, refusing to go
 * through a symlink or a non-directory: `mkdir -p` would follow a link such
 * as `ext -> /outside` and write there. On the thread pool (creating a
 * directory costs most of a millisecond here, which the event loop spends
 * on other transfers), and once per run: `checked` makes every later file
 * in a directory cost nothing. A directory this run created holds nothing
 * else, so its subdirectories are made without looking first. A failed check
 * is made again for each file it concerns, so its message names that file.
 */
async function ensureDirectoryInside(
  root: string,
  relDir: string,
  relPath: string,
  checked: DirectoryChecks = new Map(),
): Promise<void> {
  try {
    await directoryReady(root, relDir, checked);
  } catch {
    await checkDirectories(root, relDir, relPath);
  }
}

/** `relDir` checked after its parent, once per run (a failure is not kept). */
function directoryReady(root: string, relDir: string, checked: DirectoryChecks): Promise<Made> {
  let ready = checked.get(relDir);
  if (ready === undefined) {
    const slash = relDir.lastIndexOf('/');
    const parent = relDir === '.' ? undefined : slash === -1 ? '.' : relDir.slice(0, slash);
    ready = (
      parent === undefined ? Promise.resolve(false) : directoryReady(root, parent, checked)
    ).then((parentMade) => checkDirectory(root, relDir, relDir, parentMade));
    checked.set(relDir, ready);
    ready.catch(() => checked.delete(relDir));
  }
  return ready;
}

/** Every directory from the root down to `relDir`, checked for `relPath` (its errors name it). */
async function checkDirectories(root: string, relDir: string, relPath: string): Promise<void> {
  await checkDirectory(root, '.', relPath, false);
  let rel = '';
  for (const segment of relDir === '.' ? [] : relDir.split('/')) {
    rel = rel === '' ? segment : `${rel}/${segment}`;
    await checkDirectory(root, rel, relPath, false);
  }
}

/**
 * One directory: the root is created when missing (it may be a symlink: a
 * workspace may be a link to a directory); below it, a missing directory is
 * made, and a symlink or a file in its place is refused. Under a directory
 * just made (`parentMade`), it is made at once: nothing can be in its way.
 * Returns whether it made the directory.
 */
async function checkDirectory(
  root: string,
  rel: string,
  relPath: string,
  parentMade: Made,
): Promise<Made> {
  if (rel === '.') {
    try {
      return (await mkdir(root, { recursive: true })) !== undefined;
    } catch (err) {
      throw localProblem(relPath, 'cannot create the workspace directory', err);
    }
  }
  const current = join(root, rel);
  const segment = basename(rel);
  let info: Stats | undefined;
  if (!parentMade) {
    try {
      info = await lstat(current);
    } catch (err) {
      if (systemErrorCode(err) !== 'ENOENT')
        throw localProblem(relPath, `cannot read ${segment}/`, err);
    }
  }
  if (info === undefined) {
    try {
      await mkdir(current);
      return true;
    } catch (err) {
      if (systemErrorCode(err) !== 'EEXIST')
        throw localProblem(relPath, `cannot create ${segment}/`, err);
    }
    // Made by someone else meanwhile: under a directory just made, looked at like an existing one.
    return parentMade ? checkDirectory(root, rel, relPath, false) : false;
  }
  if (info.isSymbolicLink()) {
    throw new BucketspaceError(
      'SAFETY_REFUSED',
      `${relPath}: ${relative(root, current)} is a symlink locally; a pull never writes through one (it could lead out of the workspace). Replace the link with a directory to pull this file`,
      { details: { relPath } },
    );
  } else if (!info.isDirectory()) {
    throw localProblem(
      relPath,
      `${relative(root, current)} is a file locally (a file is in the way)`,
    );
  }
  return false;
}

function directoryInTheWay(relPath: string): BucketspaceError {
  return new BucketspaceError(
    'LOCAL_UNREADABLE',
    `${relPath} is a directory locally but a file in the bucket; left as it is`,
  );
}

function localProblem(relPath: string, what: string, err?: unknown): BucketspaceError {
  const why = err === undefined ? '' : `: ${systemErrorCode(err) ?? errorMessage(err)}`;
  return new BucketspaceError('LOCAL_UNREADABLE', `cannot write ${relPath}: ${what}${why}`, {
    cause: err,
  });
}

/** A small object's content as text (pull reads the ignore files in the bucket first). */
export async function readObjectText(transfer: Transfer, key: string): Promise<string> {
  const { body } = await transfer.store.getBytes({ key, signal: transfer.signal });
  return body.toString('utf8');
}

/** The temporary files a download writes next to its target (left behind only by a crash). */
export const DOWNLOAD_TEMP_PATTERN = '.*.bucketspace-tmp';
