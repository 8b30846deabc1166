import type { Dirent } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import { systemClock, type Clock } from '../../common/clock.ts';
import {
  BucketspaceError,
  errorMessage,
  isBucketspaceError,
  systemErrorCode,
} from '../../common/errors.ts';
import { WorkspaceFilter, type IgnoreFileReader } from '../../common/ignore/workspace-filter.ts';
import type { Logger } from '../../common/logger.ts';
import { walkWorkspace, type WalkResult } from '../../common/walk.ts';
import { DEPENDENCY_FILES } from '../detect/dependency-manifest.ts';
import { DETECTION_FILES, isDetectionPath } from '../detect/detect-workspace.ts';
import type { ScanResult, WorkspaceSnapshot } from '../types.ts';
import { FileTextCache } from './file-text-cache.ts';
import { isWorkspaceEntryName } from '../../common/workspace-name.ts';
import { hashFile } from './hash-file.ts';
import { fingerprintFiles } from './fingerprint.ts';
import { MountRoot } from './mount-health.ts';

export interface WorkspaceScannerOptions {
  /** WORKSPACES_MOUNT: the directory whose subdirectories are the workspaces. */
  root: string;
  logger: Logger;
  /**
   * Extra gitignore-style patterns for every workspace, after the defaults;
   * pass the sync's SYNC_EXCLUDE so both see the same files.
   */
  extraExcludes?: readonly string[];
  /** Workspaces scanned at the same time (each walk reads up to 16 directories at once). Default 4. */
  concurrency?: number;
  /** Reads ignore and detection files (default: WorkspaceFilter's reader); tests count reads here. */
  readFile?: IgnoreFileReader;
  /** Hashes dependency files (default: hashFile); tests count reads here. */
  hashFile?: IgnoreFileReader;
  clock?: Clock;
  /** A root that does not answer for this long makes the mount unavailable. Default 10 s. */
  rootTimeoutMs?: number;
  /**
   * Treat a root on the same filesystem as its parent as "not mounted"
   * (unavailable): a FUSE mount that was unmounted leaves an empty directory
   * that would otherwise look like a bucket without workspaces. Default false
   * (a plain directory is fine, e.g. in development).
   */
  expectMountPoint?: boolean;
}

export interface ScanOptions {
  /** Aborting rejects the scan with BucketspaceError ABORTED. */
  signal?: AbortSignal;
}

/** Detection reads at most this much of one file; larger ones are reported, not read. */
export const MAX_DETECTION_TEXT_BYTES = 1024 * 1024;

const DEFAULT_CONCURRENCY = 4;
const DEFAULT_ROOT_TIMEOUT_MS = 10_000;
/** How many ignored paths one debug line lists. */
const LOGGED_IGNORED = 20;

/**
 * Sees the workspaces under the mount, cheaply enough to poll (a FUSE mount
 * of S3 raises no inotify events). A scan lists the root, then walks each
 * workspace with the sync's filter (defaults, SYNC_EXCLUDE, .gitignore,
 * .dockerignore, .syncignore), never entering an ignored directory, and
 * fingerprints the non-ignored files from their `stat`s. Files are read only
 * when their `stat` changed since the previous scan: ignore files (needed to
 * filter) and DETECTION_FILES (for detection), and DEPENDENCY_FILES are
 * hashed (for the dependency cache's key), so an unchanged rescan reads no
 * file at all. The snapshot keeps each fingerprinted file's size and mtime:
 * what a container's copy is checked against.
 *
 * The workspaces are the directories directly under the root (a symlink to a
 * directory counts), as for the sync; names starting with `.` are not
 * workspaces (`.bucketspace-backup`, `.Trash-1000`, `.git`), nor are files.
 *
 * A failure of the root (missing, ENOTCONN, EIO, EACCES, no answer) makes the
 * result `unavailable`: never remove anything on it. A failure inside one
 * workspace is kept in its snapshot's `errors`; when the workspace could not
 * be walked at all its previous snapshot is repeated with the new errors.
 * Scans run one at a time; a call made during a scan starts after it.
 */
export class WorkspaceScanner {
  readonly #root: string;
  readonly #logger: Logger;
  readonly #extraExcludes: readonly string[];
  readonly #concurrency: number;
  readonly #cache: FileTextCache;
  /** SHA-256 of DEPENDENCY_FILES, kept like the texts: hashed again only when their stat changed. */
  readonly #hashes: FileTextCache;
  readonly #mountRoot: MountRoot;
  #previous = new Map<string, WorkspaceSnapshot>();
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: WorkspaceScannerOptions) {
    this.#root = path.resolve(options.root);
    this.#logger = options.logger;
    this.#extraExcludes = options.extraExcludes ?? [];
    this.#concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
    this.#cache = new FileTextCache(options.readFile);
    this.#hashes = new FileTextCache(options.hashFile ?? hashFile);
    this.#mountRoot = new MountRoot({
      root: this.#root,
      clock: options.clock ?? systemClock,
      timeoutMs: options.rootTimeoutMs ?? DEFAULT_ROOT_TIMEOUT_MS,
      expectMountPoint: options.expectMountPoint ?? false,
    });
  }

  get root(): string {
    return this.#root;
  }

  scan(options: ScanOptions = {}): Promise<ScanResult> {
    const run = this.#queue.then(() => this.#scan(options.signal));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #scan(signal: AbortSignal | undefined): Promise<ScanResult> {
    throwIfAborted(signal);
    const root = await this.#mountRoot.probe();
    if (!root.ok) {
      this.#logger.debug({ reason: root.reason }, 'mount unavailable');
      return { mount: 'unavailable', reason: root.reason };
    }
    const names = await this.#workspaceNames(root.entries);
    this.#cache.beginScan();
    this.#hashes.beginScan();
    const limit = pLimit(this.#concurrency);
    const settled = await Promise.allSettled(
      names.map((name) => limit(() => this.#scanWorkspace(name, signal))),
    );
    throwIfAborted(signal);
    const workspaces = new Map<string, WorkspaceSnapshot>();
    for (const outcome of settled) {
      if (outcome.status === 'rejected') throw outcome.reason;
      if (outcome.value !== undefined) workspaces.set(outcome.value.name, outcome.value);
    }
    this.#cache.endScan();
    this.#hashes.endScan();
    const failed = [...workspaces.values()].filter((w) => w.errors.length > 0);
    if (failed.length > 0) {
      // Errors in workspaces may be the mount dying during the scan: ask the root again.
      const again = await this.#mountRoot.probe();
      if (!again.ok) {
        this.#logger.debug({ reason: again.reason }, 'mount became unavailable during the scan');
        return { mount: 'unavailable', reason: again.reason };
      }
    }
    this.#previous = workspaces;
    this.#logger.debug(
      { workspaces: workspaces.size, withErrors: failed.map((w) => w.name) },
      'scanned workspaces',
    );
    return { mount: 'ok', workspaces };
  }

  /** The directories directly under the root that are workspaces, sorted. */
  async #workspaceNames(entries: Dirent[]): Promise<string[]> {
    const names: string[] = [];
    for (const entry of entries) {
      const name = entry.name;
      if (!isWorkspaceEntryName(name)) {
        this.#logger.debug({ entry: name }, 'not a workspace: hidden entries are not workspaces');
        continue;
      }
      let isDirectory = entry.isDirectory();
      if (entry.isSymbolicLink()) {
        isDirectory = await stat(path.join(this.#root, name)).then(
          (s) => s.isDirectory(),
          () => false,
        );
      }
      if (isDirectory) names.push(name);
      else this.#logger.debug({ entry: name }, 'not a workspace: not a directory');
    }
    return names.sort();
  }

  async #scanWorkspace(
    name: string,
    signal: AbortSignal | undefined,
  ): Promise<WorkspaceSnapshot | undefined> {
    throwIfAborted(signal);
    const dir = path.join(this.#root, name);
    const previous = this.#previous.get(name);
    let walked: WalkResult;
    try {
      const filter = await WorkspaceFilter.load({
        root: dir,
        extraExcludes: this.#extraExcludes,
        readFile: this.#cache.readIgnoreFile,
      });
      walked = await walkWorkspace({ root: dir, filter, signal });
    } catch (err) {
      if (isBucketspaceError(err, 'ABORTED')) throw err;
      if (isBucketspaceError(err, 'LOCAL_NOT_FOUND')) {
        this.#logger.debug({ workspace: name, err }, 'workspace vanished during the scan');
        return undefined;
      }
      const problem = `cannot scan the workspace: ${errorMessage(err)}`;
      this.#logger.debug({ workspace: name, err }, 'workspace scan failed');
      return failedSnapshot(name, dir, previous, problem);
    }
    const errors = [
      ...walked.errors.map((e) => `${e.relPath}: ${e.message}`),
      ...walked.skipped
        .filter((s) => s.reason === 'unreadable')
        .map((s) => `${s.relPath}: ${s.message}`),
    ];
    const files = new Set<string>();
    let lastChangeMs = 0;
    for (const file of walked.files) {
      if (isDetectionPath(file.relPath)) files.add(file.relPath);
      if (file.mtimeMs > lastChangeMs) lastChangeMs = file.mtimeMs;
    }
    const texts = await this.#detectionTexts(walked, errors);
    const hashes = await this.#dependencyHashes(walked, errors);
    const snapshot: WorkspaceSnapshot = {
      name,
      dir,
      fingerprint: fingerprintFiles(walked.files),
      fileCount: walked.files.length,
      lastChangeMs: Math.floor(lastChangeMs),
      probe: { name, files, texts },
      files: walked.files.map((f) => ({ relPath: f.relPath, size: f.size, mtimeMs: f.mtimeMs })),
      hashes,
      errors,
    };
    if (snapshot.fingerprint !== previous?.fingerprint) this.#logSkipped(name, walked);
    return snapshot;
  }

  /** The texts of DETECTION_FILES there are, read only when their stat changed. */
  #detectionTexts(walked: WalkResult, errors: string[]): Promise<Map<string, string>> {
    return readRootFiles(walked, DETECTION_FILES, this.#cache, errors, MAX_DETECTION_TEXT_BYTES);
  }

  /** The SHA-256 of the DEPENDENCY_FILES there are, hashed only when their stat changed. */
  #dependencyHashes(walked: WalkResult, errors: string[]): Promise<Map<string, string>> {
    return readRootFiles(walked, DEPENDENCY_FILES, this.#hashes, errors);
  }

  #logSkipped(name: string, walked: WalkResult): void {
    if (!this.#logger.isLevelEnabled('debug')) return;
    for (const skip of walked.skipped) {
      this.#logger.debug(
        { workspace: name, path: skip.relPath, reason: skip.reason, why: skip.message },
        'skipped file',
      );
    }
    if (walked.ignored.length > 0) {
      this.#logger.debug(
        {
          workspace: name,
          count: walked.ignored.length,
          ignored: walked.ignored.slice(0, LOGGED_IGNORED).map((i) => ({
            path: i.isDirectory ? `${i.relPath}/` : i.relPath,
            rule:
              i.rule === undefined
                ? undefined
                : `${i.rule.source}:${i.rule.line} ${i.rule.pattern}`,
          })),
        },
        'ignored paths (ignored directories were not walked)',
      );
    }
  }
}

/**
 * What `cache` holds for each of `names` the walk found (texts, or digests),
 * read through it only when the file's stat changed. A file over `maxBytes`
 * and a file that cannot be read are errors of the scan.
 */
async function readRootFiles(
  walked: WalkResult,
  names: readonly string[],
  cache: FileTextCache,
  errors: string[],
  maxBytes = Infinity,
): Promise<Map<string, string>> {
  const values = new Map<string, string>();
  const wanted = new Set(names);
  for (const file of walked.files) {
    if (!wanted.has(file.relPath)) continue;
    if (file.size > maxBytes) {
      errors.push(
        `${file.relPath}: ${file.size} bytes, too big to read for detection (at most ${maxBytes})`,
      );
      continue;
    }
    try {
      const value = await cache.read(file.absPath, file, { followSymlink: true });
      if (value !== undefined) values.set(file.relPath, value);
    } catch (err) {
      errors.push(`${file.relPath}: cannot read (${codeOf(err)})`);
    }
  }
  return values;
}

/** A workspace that could not be walked: its last known picture, with why it is stale. */
function failedSnapshot(
  name: string,
  dir: string,
  previous: WorkspaceSnapshot | undefined,
  problem: string,
): WorkspaceSnapshot {
  if (previous !== undefined) return { ...previous, errors: [problem] };
  return {
    name,
    dir,
    fingerprint: fingerprintFiles([]),
    fileCount: 0,
    lastChangeMs: 0,
    probe: { name, files: new Set(), texts: new Map() },
    files: [],
    hashes: new Map(),
    errors: [problem],
  };
}

function codeOf(err: unknown): string {
  const cause = err instanceof Error ? err.cause : undefined;
  return systemErrorCode(err) ?? systemErrorCode(cause) ?? errorMessage(err);
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) {
    throw new BucketspaceError('ABORTED', 'workspace scan aborted', { cause: signal.reason });
  }
}
