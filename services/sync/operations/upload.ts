import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BucketspaceError, errorMessage, systemErrorCode } from '../../common/errors.ts';
import type { WalkedFile } from '../../common/walk.ts';
import type { Transfer } from './transfer.ts';

/**
 * Files below this size are read (uploads) or received (downloads) whole
 * into memory, so each takes a few synchronous calls instead of a stream's
 * thread-pool round trips; uploads send them with Content-MD5.
 */
export const IN_MEMORY_LIMIT = 1024 * 1024;
/** S3's longest key. */
export const MAX_KEY_BYTES = 1024;

/**
 * Uploads one local file as `key`, with its mtime and mode as metadata (so
 * pull can restore them); returns the object's ETag. A file gone before it
 * could be read fails as LOCAL_NOT_FOUND, an unreadable one as LOCAL_UNREADABLE.
 */
export async function uploadFile(
  transfer: Transfer,
  file: WalkedFile,
  key: string,
  onProgress: (bytes: number) => void = () => undefined,
): Promise<string> {
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new BucketspaceError(
      'S3_KEY_TOO_LONG',
      `object key is ${Buffer.byteLength(key)} bytes; S3 allows at most ${MAX_KEY_BYTES}: shorten the path`,
      { details: { key } },
    );
  }
  const metadata: Record<string, string> = { mtime: (file.mtimeMs / 1000).toFixed(3) };
  if (file.mode !== undefined) metadata.mode = String(file.mode);
  const { store, signal } = transfer;
  if (file.size < IN_MEMORY_LIMIT) {
    let body: Buffer;
    try {
      // Small files: one synchronous read is far cheaper than four thread-pool round trips.
      body = readFileSync(file.absPath);
    } catch (err) {
      throw localErrorFor(err, file);
    }
    const md5Hex = createHash('md5').update(body).digest('hex');
    const res = await store.put({
      key,
      body,
      size: body.length,
      md5Hex,
      metadata,
      signal,
      onProgress,
    });
    return res.etag || md5Hex;
  }
  const res = await store.put({
    key,
    filePath: file.absPath,
    size: file.size,
    metadata,
    signal,
    onProgress,
  });
  return res.etag;
}

function localErrorFor(err: unknown, file: WalkedFile): BucketspaceError {
  const code = systemErrorCode(err);
  if (code === 'ENOENT')
    return new BucketspaceError('LOCAL_NOT_FOUND', `${file.relPath} vanished before upload`, {
      cause: err,
    });
  return new BucketspaceError(
    'LOCAL_UNREADABLE',
    `cannot read ${file.relPath}: ${code ?? errorMessage(err)}`,
    { cause: err },
  );
}
