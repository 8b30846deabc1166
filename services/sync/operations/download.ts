import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, lstat, mkdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { Writable } from 'node:stream';
import { BucketspaceError, errorMessage, systemErrorCode } from '../../common/errors.ts';
import { unsafePathProblem } from '../object-keys.ts';
import type { StateEntry } from '../types.ts';
import type { Transfer } from './transfer.ts';

export interface DownloadInput {
  /** The workspace's local root. */
  root: string;
  /** Where the object goes, relative to the root (POSIX). */
  relPath: string;
  key: string;
  /** ETag from the listing, used when the GET does not return one. */
  listedEtag: string;
  /** Called with the local file about to be replaced, before it is (pull moves it to its backup). */
  beforeReplace?: (absPath: string) => Promise<void>;
}

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
 */
export async function downloadFile(transfer: Transfer, input: DownloadInput): Promise<StateEntry> {
  const target = targetInside(input.root, input.relPath);
  await ensureDirectoryInside(input.root, dirname(input.relPath), input.relPath);
  const tmp = join(dirname(target), `.${randomBytes(6).toString('hex')}.bucketspace-tmp`);
  try {
    const res = await transfer.store.get({
      key: input.key,
      writeTo: createWriteStream(tmp),
      signal: transfer.signal,
    });
    const existing = await lstat(target).catch(() => undefined);
    if (existing?.isDirectory()) {
      throw new BucketspaceError(
        'LOCAL_UNREADABLE',
        `${input.relPath} is a directory locally but a file in the bucket; left as it is`,
      );
    }
    if (existing) await input.beforeReplace?.(target);
    await rename(tmp, target);
    const mode = Number(res.metadata.mode);
    if (Number.isInteger(mode) && mode > 0) await chmod(target, mode & RESTORED_MODE_MASK);
    const mtime = Number(res.metadata.mtime);
    if (Number.isFinite(mtime) && mtime > 0)
      await utimes(target, new Date(), new Date(mtime * 1000));
    const st = await stat(target);
    return {
      size: st.size,
      mtimeMs: st.mtimeMs,
      ctimeMs: st.ctimeMs,
      ino: st.ino,
      etag: res.etag || input.listedEtag,
    };
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
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
 * Creates `relDir` under `root` one directory at a time, refusing to go
 * through a symlink or a non-directory: `mkdir -p` would follow a link such
 * as `ext -> /outside` and write there.
 */
async function ensureDirectoryInside(root: string, relDir: string, relPath: string): Promise<void> {
  // The root itself may be a symlink: a workspace may be a link to a directory.
  await mkdir(root, { recursive: true }).catch((err: unknown) => {
    throw localProblem(relPath, 'cannot create the workspace directory', err);
  });
  let current = root;
  for (const segment of relDir === '.' ? [] : relDir.split('/')) {
    current = join(current, segment);
    const info = await lstat(current).catch((err: unknown) => {
      if (systemErrorCode(err) === 'ENOENT') return undefined;
      throw localProblem(relPath, `cannot read ${segment}/`, err);
    });
    if (info === undefined) {
      await mkdir(current).catch((err: unknown) => {
        if (systemErrorCode(err) !== 'EEXIST')
          throw localProblem(relPath, `cannot create ${segment}/`, err);
      });
      continue;
    }
    if (info.isSymbolicLink()) {
      throw new BucketspaceError(
        'SAFETY_REFUSED',
        `${relPath}: ${relative(root, current)} is a symlink locally; a pull never writes through one (it could lead out of the workspace). Replace the link with a directory to pull this file`,
        { details: { relPath } },
      );
    }
    if (!info.isDirectory())
      throw localProblem(
        relPath,
        `${relative(root, current)} is a file locally (a file is in the way)`,
      );
  }
}

function localProblem(relPath: string, what: string, err?: unknown): BucketspaceError {
  const why = err === undefined ? '' : `: ${systemErrorCode(err) ?? errorMessage(err)}`;
  return new BucketspaceError('LOCAL_UNREADABLE', `cannot write ${relPath}: ${what}${why}`, {
    cause: err,
  });
}

/** A small object's content as text (pull reads the ignore files in the bucket first). */
export async function readObjectText(transfer: Transfer, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  await transfer.store.get({ key, writeTo: sink, signal: transfer.signal });
  return Buffer.concat(chunks).toString('utf8');
}

/** The temporary files a download writes next to its target (left behind only by a crash). */
export const DOWNLOAD_TEMP_PATTERN = '.*.bucketspace-tmp';
