import { createHash } from 'node:crypto';

export interface FingerprintedFile {
  relPath: string;
  size: number;
  mtimeMs: number;
  mode?: number;
}

/**
 * A workspace's fingerprint: a hash over its non-ignored files' paths,
 * sizes, mtimes and permission bits (a `chmod +x` changes what the app can
 * run), in the order given (the walk sorts by path). No file is read: a
 * same-size edit is seen through its new mtime. The inode is left out, as
 * FUSE mounts (rclone) may number files anew after their directory cache
 * expires. 32 hex characters (128 bits): it tells versions apart, it is not
 * a security hash.
 */
export function fingerprintFiles(files: Iterable<FingerprintedFile>): string {
  const hash = createHash('sha256');
  for (const file of files) {
    const permissions = file.mode === undefined ? '' : (file.mode & 0o7777).toString(8);
    hash.update(`${file.relPath}\0${file.size}\0${file.mtimeMs}\0${permissions}\n`);
  }
  return hash.digest('hex').slice(0, 32);
}
