import { watch, type FSWatcher } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { BucketspaceError, systemErrorCode } from '../../common/errors.ts';
import type { FileEvents, FileWatch, WatchRequest } from './file-events.ts';

/**
 * FileEvents over Node's own `fs.watch`, one watcher per directory (inotify
 * on Linux, kqueue or FSEvents elsewhere), and nothing per file: a change is
 * reported by path and the caller looks at the file itself (decision 0052).
 * Excluded directories are never opened or watched. A directory that
 * appears is watched before it is read, so a file written into it at any
 * moment is either read or raises an event.
 */
export const fsWatchEvents: FileEvents = {
  async watch(request: WatchRequest): Promise<FileWatch> {
    const tree = new WatchedTree(request);
    await tree.addDirectory(request.root, 0, false);
    return tree;
  },
};

class WatchedTree implements FileWatch {
  readonly #request: WatchRequest;
  /** Every directory watched (those under `depth`), by absolute path. */
  readonly #watchers = new Map<string, FSWatcher>();
  /** Directories known beyond `depth` (seen, not watched), so their removal is told as such. */
  readonly #unwatched = new Set<string>();
  #closed = false;
  /** The kernel's watch limit was hit: said once per watch, not once per directory. */
  #limitTold = false;

  constructor(request: WatchRequest) {
    this.#request = request;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#watchers.values()) w.close();
    this.#watchers.clear();
    this.#unwatched.clear();
    return Promise.resolve();
  }

  /** Watch `dir`, then read it; `announce`: tell of what is in it (it appeared after the start). */
  async addDirectory(dir: string, depth: number, announce: boolean): Promise<void> {
    if (this.#closed || this.#watchers.has(dir)) return;
    const request = this.#request;
    if (request.depth !== undefined && depth > request.depth) {
      this.#unwatched.add(dir);
      return;
    }
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, { persistent: true }, (_type, name) => this.#onChange(dir, depth, name));
    } catch (err) {
      if (systemErrorCode(err) !== 'ENOSPC') request.onError(err);
      else if (!this.#limitTold) {
        this.#limitTold = true;
        request.onError(watchLimitError(dir, err));
      }
      return;
    }
    watcher.on('error', (err) => {
      // A watched directory that is removed may report an error as it goes: its parent tells.
      if (this.#watchers.get(dir) === watcher) request.onError(err);
    });
    this.#watchers.set(dir, watcher);
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      request.onError(err);
      return;
    }
    for (const entry of entries) {
      if (this.#closed) return;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (request.ignored?.(path, true)) continue;
        if (announce) request.onEvent('addDir', path);
        await this.addDirectory(path, depth + 1, announce);
      } else if (announce && !request.ignored?.(path, false)) {
        request.onEvent('add', path);
      }
    }
  }

  #onChange(dir: string, depth: number, name: string | Buffer | null): void {
    if (this.#closed) return;
    // Without a name (never on Linux) the directory itself changed: tell it as a directory event.
    const path = name === null ? dir : join(dir, name.toString());
    void this.#classify(path, depth + 1).catch((err: unknown) => this.#request.onError(err));
  }

  /** What happened at `path` (a direct child of a directory at depth - 1): look at it now. */
  async #classify(path: string, depth: number): Promise<void> {
    const request = this.#request;
    const wasDirectory = this.#watchers.has(path) || this.#unwatched.has(path);
    let isDirectory: boolean | undefined;
    try {
      isDirectory = (await lstat(path)).isDirectory();
    } catch {
      isDirectory = undefined; // gone
    }
    if (this.#closed) return;
    if (isDirectory === undefined || (wasDirectory && !isDirectory)) {
      if (wasDirectory) {
        this.#forget(path);
        request.onEvent('unlinkDir', path);
      } else if (!request.ignored?.(path, false)) request.onEvent('unlink', path);
      if (isDirectory === undefined) return;
    }
    if (isDirectory) {
      if (wasDirectory || request.ignored?.(path, true)) return;
      request.onEvent('addDir', path);
      await this.addDirectory(path, depth, true);
      return;
    }
    if (!request.ignored?.(path, false)) request.onEvent('change', path);
  }

  /** Stop watching a directory that is gone, and everything under it. */
  #forget(dir: string): void {
    const inside = dir + sep;
    for (const [path, w] of this.#watchers)
      if (path === dir || path.startsWith(inside)) {
        w.close();
        this.#watchers.delete(path);
      }
    for (const path of this.#unwatched)
      if (path === dir || path.startsWith(inside)) this.#unwatched.delete(path);
  }
}

/**
 * `fs.watch` failing with ENOSPC: the kernel's limit of inotify watches
 * (`fs.inotify.max_user_watches`, shared by every process of the user) is
 * reached. Says what is not watched and the two ways out.
 */
export function watchLimitError(dir: string, cause: unknown): BucketspaceError {
  return new BucketspaceError(
    'LOCAL_UNREADABLE',
    `cannot watch ${dir} or what comes after it: the system's limit of inotify watches is reached ` +
      '(one per watched directory). Raise it (sysctl fs.inotify.max_user_watches=524288, or ' +
      'fs.inotify.max_user_watches in /etc/sysctl.d/) or exclude more directories (.gitignore, ' +
      'SYNC_EXCLUDE), then restart the watch; until then, changes there are synced by the ' +
      'full reconcile (SYNC_RECONCILE_INTERVAL)',
    { cause, details: { path: dir } },
  );
}
