import type { WalkedFile } from '../../common/walk.ts';
import type { RemoteFile, StateEntry } from '../types.ts';

/** The entry remembered for a file uploaded (or verified) with this ETag. */
export function stateOf(file: WalkedFile, etag: string): StateEntry {
  return { size: file.size, mtimeMs: file.mtimeMs, ctimeMs: file.ctimeMs, ino: file.ino, etag };
}

/**
 * The "unchanged?" check: the remembered stat still describes the file, and
 * the remote object is still the one uploaded (same ETag and size). When it
 * says no, a same-size file is hashed before anything is transferred.
 */
export function isUnchanged(
  entry: StateEntry | undefined,
  file: WalkedFile,
  remote: Pick<RemoteFile, 'etag' | 'size'>,
): boolean {
  return (
    entry !== undefined &&
    entry.size === file.size &&
    entry.mtimeMs === file.mtimeMs &&
    entry.ctimeMs === file.ctimeMs &&
    entry.ino === file.ino &&
    entry.etag === remote.etag &&
    remote.size === file.size
  );
}

export function sameState(
  a: ReadonlyMap<string, StateEntry>,
  b: ReadonlyMap<string, StateEntry>,
): boolean {
  if (a.size !== b.size) return false;
  for (const [k, x] of a) {
    const y = b.get(k);
    if (
      !y ||
      x.size !== y.size ||
      x.mtimeMs !== y.mtimeMs ||
      x.ctimeMs !== y.ctimeMs ||
      x.ino !== y.ino ||
      x.etag !== y.etag
    ) {
      return false;
    }
  }
  return true;
}

/**
 * What to remember after a push of one workspace: every file uploaded now
 * (with its new ETag), and every file whose remembered entry still matches
 * the bucket. Anything else is forgotten and hashed next time.
 */
export function stateAfterPush(input: {
  files: readonly WalkedFile[];
  previous: ReadonlyMap<string, StateEntry>;
  remote: ReadonlyMap<string, RemoteFile>;
  /** ETags of the files uploaded in this run, by relPath. */
  uploaded: ReadonlyMap<string, string>;
}): Map<string, StateEntry> {
  const next = new Map<string, StateEntry>();
  for (const file of input.files) {
    const etag = input.uploaded.get(file.relPath);
    const prev = input.previous.get(file.relPath);
    const r = input.remote.get(file.relPath);
    if (etag !== undefined) next.set(file.relPath, stateOf(file, etag));
    else if (prev && r && prev.etag === r.etag && r.size === file.size)
      next.set(file.relPath, stateOf(file, prev.etag));
  }
  return next;
}
