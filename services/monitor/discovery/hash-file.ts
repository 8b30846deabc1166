import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { localError, systemErrorCode } from '../../common/errors.ts';

/**
 * The SHA-256 (hex) of a file's content, or undefined when there is no
 * regular file there (missing, or a symlink when `followSymlink` is false).
 * Throws LOCAL_UNREADABLE when it exists but cannot be read. Shaped like an
 * IgnoreFileReader, so a FileTextCache keeps the digests between scans.
 */
export async function hashFile(
  absPath: string,
  options: { followSymlink: boolean },
): Promise<string | undefined> {
  try {
    if (!options.followSymlink && (await lstat(absPath)).isSymbolicLink()) return undefined;
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(absPath)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  } catch (err) {
    const code = systemErrorCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'ELOOP') {
      return undefined;
    }
    throw localError(err, absPath, 'read');
  }
}
