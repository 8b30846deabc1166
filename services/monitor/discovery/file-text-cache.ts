import { lstatSync, statSync, type Stats } from 'node:fs';
import { localError, systemErrorCode } from '../../common/errors.ts';
import { readIgnoreFile, type IgnoreFileReader } from '../../common/ignore/workspace-filter.ts';

/** What identifies one version of a file without reading it. */
export interface FileVersion {
  size: number;
  mtimeMs: number;
  ino: number;
}

interface Entry extends FileVersion {
  followSymlink: boolean;
  text: string | undefined;
  /** The scan that last used this entry; older entries are dropped by `endScan`. */
  generation: number;
}

/**
 * The text of small files (ignore files, detection files) kept between scans,
 * keyed by path and version (size, mtime, inode): a file is read again only
 * when its `stat` changed, so an unchanged rescan reads no file at all. The
 * version is taken before the read, so a file changing during the read is
 * read again next scan.
 */
export class FileTextCache {
  readonly #read: IgnoreFileReader;
  readonly #entries = new Map<string, Entry>();
  #generation = 0;

  /** `read` does the actual reads; defaults to WorkspaceFilter's safe ignore-file reader. */
  constructor(read: IgnoreFileReader = readIgnoreFile) {
    this.#read = read;
  }

  /** Starts a scan: entries not used from now until `endScan` are dropped then. */
  beginScan(): void {
    this.#generation++;
  }

  endScan(): void {
    for (const [absPath, entry] of this.#entries) {
      if (entry.generation !== this.#generation) this.#entries.delete(absPath);
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * An IgnoreFileReader for WorkspaceFilter: stats the file (lstat when not
   * following symlinks) and reads it only when that version is not cached.
   */
  readonly readIgnoreFile: IgnoreFileReader = async (absPath, options) => {
    let stats: Stats | undefined;
    try {
      stats = options.followSymlink
        ? statSync(absPath, { throwIfNoEntry: false })
        : lstatSync(absPath, { throwIfNoEntry: false });
    } catch (err) {
      const code = systemErrorCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') stats = undefined;
      else throw localError(err, absPath, 'read ignore file');
    }
    if (stats === undefined || !stats.isFile()) {
      this.#entries.delete(absPath);
      return undefined;
    }
    return this.read(absPath, stats, options);
  };

  /** The text of a file whose version the caller has just seen (e.g. in a walk). */
  async read(
    absPath: string,
    version: FileVersion,
    options: { followSymlink: boolean } = { followSymlink: true },
  ): Promise<string | undefined> {
    const cached = this.#entries.get(absPath);
    if (
      cached !== undefined &&
      cached.followSymlink === options.followSymlink &&
      sameVersion(cached, version)
    ) {
      cached.generation = this.#generation;
      return cached.text;
    }
    this.#entries.delete(absPath);
    const text = await this.#read(absPath, options);
    this.#entries.set(absPath, {
      size: version.size,
      mtimeMs: version.mtimeMs,
      ino: version.ino,
      followSymlink: options.followSymlink,
      text,
      generation: this.#generation,
    });
    return text;
  }
}

function sameVersion(a: FileVersion, b: FileVersion): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;
}
