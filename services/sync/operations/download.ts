import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, lstat, mkdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { BucketspaceError, errorMessage, systemErrorCode } from '../../common/errors.ts';
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

/**
 * Downloads one object into its workspace: into a temporary file next to the
 * target, then renamed over it, so a reader never sees half a file; the mode
 * and mtime stored as metadata are applied. Returns the state entry of the
 * written file (what a following push compares against).
 */
export async function downloadFile(transfer: Transfer, input: DownloadInput): Promise<StateEntry> {
  const target = join(input.root, input.relPath);
  await mkdir(dirname(target), { recursive: true }).catch((err: unknown) => {
    throw new BucketspaceError(
      'LOCAL_UNREADABLE',
      `cannot create the directory for ${input.relPath}: ${systemErrorCode(err) ?? errorMessage(err)} (a file may be in the way)`,
      { cause: err },
    );
  });
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
    if (Number.isInteger(mode) && mode > 0) await chmod(target, mode & 0o777);
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
