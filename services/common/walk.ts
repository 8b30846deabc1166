import { constants, lstatSync, type Dirent, type Stats } from 'node:fs';
import { access, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { BucketspaceError, errorMessage, localError, systemErrorCode } from './errors.ts';
import type { RuleRef } from './ignore/types.ts';
import { explainAfterEntering, type WorkspaceFilter } from './ignore/workspace-filter.ts';

export interface WalkedFile {
  /** POSIX path relative to the workspace root. */
  relPath: string;
  absPath: string;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  /** st_mode (type and permission bits), stored as object metadata so pull can restore it. */
  mode?: number;
  /** Set when this file is a symlink to a file inside the workspace: the target, relative to the root. */
  viaSymlink?: string;
}

export type WalkSkipReason =
  | 'symlink-outside'
  | 'symlink-dangling'
  | 'symlink-directory'
  | 'symlink-to-excluded'
  | 'unreadable'
  | 'vanished'
  | 'invalid-name'
  | 'special-file';

export interface WalkSkip {
  relPath: string;
  reason: WalkSkipReason;
  message: string;
}

/**
 * A file that exists but could not be read or named: never a deletion, so
 * its copy on the other side is kept (and it is reported as a failure).
 */
export function keepsRemoteCopy(skip: WalkSkip): boolean {
  return skip.reason === 'unreadable' || skip.reason === 'invalid-name';
}

export interface WalkIgnored {
  relPath: string;
  isDirectory: boolean;
  rule: RuleRef | undefined;
}

export interface WalkResult {
  /** Sorted by relPath, like every list here. */
  files: WalkedFile[];
  /** Entries deliberately left out. Unreadable files are here: their remote copies must be kept. */
  skipped: WalkSkip[];
  /** Entries excluded by a rule; excluded directories were not opened. */
  ignored: WalkIgnored[];
  /** Problems that make the walk incomplete (a directory unreadable or gone); no deletes then. */
  errors: WalkSkip[];
}

export interface WalkOptions {
  root: string;
  filter: WorkspaceFilter;
  signal?: AbortSignal;
  onProgress?: (filesSoFar: number) => void;
  /** Directories read at the same time (default DIRECTORY_CONCURRENCY). */
  concurrency?: number;
}

/** Directories read at the same time, unless the caller says otherwise. */
const DIRECTORY_CONCURRENCY = 16;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

interface WalkContext extends WalkResult {
  root: string;
  rootReal: string;
  filter: WorkspaceFilter;
  signal: AbortSignal | undefined;
  onProgress: ((filesSoFar: number) => void) | undefined;
  reader: Reader;
}

/**
 * Walks one workspace, applying the filter at each level so that an excluded
 * directory is never opened. Symlinks are never followed out of the
 * workspace, nor into directories. Throws LOCAL_NOT_FOUND / LOCAL_UNREADABLE
 * when the root itself cannot be walked, ABORTED when the signal fires.
 */
export async function walkWorkspace(options: WalkOptions): Promise<WalkResult> {
  const root = path.resolve(options.root);
  const context: WalkContext = {
    root,
    rootReal: await resolveRoot(root),
    filter: options.filter,
    signal: options.signal,
    onProgress: options.onProgress,
    reader: currentReader(),
    files: [],
    skipped: [],
    ignored: [],
    errors: [],
  };
  await drain('', options.concurrency ?? DIRECTORY_CONCURRENCY, (relDir) =>
    visitDirectory(context, relDir),
  );
  return {
    files: context.files.sort(byRelPath),
    skipped: context.skipped.sort(byRelPath),
    ignored: context.ignored.sort(byRelPath),
    errors: context.errors.sort(byRelPath),
  };
}

async function resolveRoot(root: string): Promise<string> {
  let real: string;
  let stats: Stats;
  try {
    real = await realpath(root);
    stats = await stat(real);
  } catch (err) {
    throw localError(err, root, 'open workspace');
  }
  if (!stats.isDirectory()) {
    throw new BucketspaceError('LOCAL_NOT_FOUND', `open workspace ${root}: not a directory`, {
      details: { path: root },
    });
  }
  return real;
}

/** Reads one directory; returns the subdirectories to walk. */
async function visitDirectory(context: WalkContext, relDir: string): Promise<string[]> {
  throwIfAborted(context.signal);
  const absDir = relDir === '' ? context.root : path.join(context.root, relDir);
  try {
    await context.filter.enterDirectory(relDir);
  } catch (err) {
    if (relDir === '') throw err;
    context.errors.push({ relPath: relDir, reason: 'unreadable', message: errorMessage(err) });
    return [];
  }
  let entries: Dirent<Buffer>[];
  try {
    entries = await readdir(absDir, { withFileTypes: true, encoding: 'buffer' });
  } catch (err) {
    if (relDir === '') throw localError(err, context.root, 'read workspace directory');
    const code = systemErrorCode(err);
    const vanished = code === 'ENOENT' || code === 'ENOTDIR';
    context.errors.push({
      relPath: relDir,
      reason: vanished ? 'vanished' : 'unreadable',
      message: vanished
        ? `directory vanished during the walk (${code})`
        : `cannot read directory: ${code ?? errorMessage(err)}`,
    });
    return [];
  }
  const subdirectories: string[] = [];
  const pending: Promise<void>[] = [];
  for (const entry of entries) {
    const subdirectory = visitEntry(context, relDir, entry, pending);
    if (subdirectory !== undefined) subdirectories.push(subdirectory);
  }
  await Promise.all(pending);
  context.onProgress?.(context.files.length);
  return subdirectories;
}

/**
 * Classifies one directory entry; returns its relPath when it is a directory
 * to walk. The common cases (directories, excluded entries, regular files)
 * are handled synchronously: a synchronous lstat costs a quarter of a
 * promise-based one, and the walk is lstat-bound. Symlinks and the rare
 * permission check go to `pending`.
 */
function visitEntry(
  context: WalkContext,
  relDir: string,
  entry: Dirent<Buffer>,
  pending: Promise<void>[],
): string | undefined {
  let name: string;
  try {
    name = strictUtf8.decode(entry.name);
  } catch {
    context.skipped.push({
      relPath: joinRel(relDir, entry.name.toString('utf8')),
      reason: 'invalid-name',
      message: `name is not valid UTF-8 (bytes ${entry.name.toString('hex')})`,
    });
    return undefined;
  }
  const relPath = joinRel(relDir, name);
  const isDirectory = entry.isDirectory();
  // A symlink is matched as a file, as git does: `foo/` does not match a link.
  if (context.filter.isIgnored(relPath, isDirectory)) {
    const { rule } = context.filter.decide(relPath, isDirectory);
    context.ignored.push({ relPath, isDirectory, rule });
    return undefined;
  }
  if (isDirectory) return relPath;
  const absPath = path.join(context.root, relPath);
  if (entry.isFile()) {
    addFile(context, relPath, absPath, pending);
  } else if (entry.isSymbolicLink()) {
    pending.push(addSymlink(context, relPath, absPath));
  } else {
    context.skipped.push({ relPath, reason: 'special-file', message: specialFileMessage(entry) });
  }
  return undefined;
}

function addFile(
  context: WalkContext,
  relPath: string,
  absPath: string,
  pending: Promise<void>[],
): void {
  let stats: Stats | undefined;
  try {
    stats = lstatSync(absPath, { throwIfNoEntry: false });
  } catch (err) {
    context.skipped.push(statFailure(relPath, err));
    return;
  }
  if (stats === undefined) {
    context.skipped.push({ relPath, reason: 'vanished', message: 'vanished during the walk' });
    return;
  }
  if (!stats.isFile()) {
    // Replaced by something else between readdir and lstat: the picture of
    // this path is unreliable, so the walk must not be used to delete.
    context.errors.push({
      relPath,
      reason: 'vanished',
      message: 'changed from a regular file to another type during the walk',
    });
    return;
  }
  const file = walkedFile(relPath, absPath, stats);
  if (readableByMode(context.reader, stats)) {
    context.files.push(file);
    return;
  }
  pending.push(
    isAccessible(absPath).then((readable) => {
      if (readable) context.files.push(file);
      else context.skipped.push({ relPath, reason: 'unreadable', message: 'permission denied' });
    }),
  );
}

async function addSymlink(context: WalkContext, relPath: string, absPath: string): Promise<void> {
  let target: string;
  try {
    target = await realpath(absPath);
  } catch (err) {
    const code = systemErrorCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') {
      context.skipped.push({
        relPath,
        reason: 'symlink-dangling',
        message: code === 'ELOOP' ? 'symlink loop' : 'symlink target does not exist',
      });
    } else {
      context.skipped.push({
        relPath,
        reason: 'unreadable',
        message: `cannot resolve symlink: ${code ?? errorMessage(err)}`,
      });
    }
    return;
  }
  if (!isWithin(context.rootReal, target)) {
    context.skipped.push({
      relPath,
      reason: 'symlink-outside',
      message: `symlink points outside the workspace (${target})`,
    });
    return;
  }
  let stats: Stats;
  try {
    stats = await stat(target);
  } catch (err) {
    context.skipped.push(statFailure(relPath, err));
    return;
  }
  const viaSymlink = path.relative(context.rootReal, target).split(path.sep).join('/');
  if (stats.isDirectory()) {
    context.skipped.push({
      relPath,
      reason: 'symlink-directory',
      message: `symlink to a directory (${viaSymlink || '.'}) is not followed`,
    });
  } else if (!stats.isFile()) {
    context.skipped.push({ relPath, reason: 'special-file', message: 'symlink to a special file' });
  } else if (!readableByMode(context.reader, stats) && !(await isAccessible(target))) {
    context.skipped.push({ relPath, reason: 'unreadable', message: 'permission denied' });
  } else if ((await explainAfterEntering(context.filter, viaSymlink, false)).ignored) {
    // `cfg -> .env` must not upload the secret under another name.
    context.skipped.push({
      relPath,
      reason: 'symlink-to-excluded',
      message: `symlink to an excluded file (${viaSymlink}) is not followed`,
    });
  } else {
    context.files.push({ ...walkedFile(relPath, absPath, stats), viaSymlink });
  }
}

/**
 * One file met outside a walk (a single file mirrored on its own, not a
 * tree): its entry as a walk would give it, or undefined when nothing is
 * there. A symlink is followed; anything but a regular file is refused.
 */
export async function walkedFileAt(
  absPath: string,
  relPath: string,
): Promise<WalkedFile | undefined> {
  let stats: Stats;
  try {
    stats = await stat(absPath);
  } catch (err) {
    const code = systemErrorCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw localError(err, absPath, 'stat');
  }
  if (!stats.isFile()) {
    throw new BucketspaceError('LOCAL_UNREADABLE', `${absPath} is not a regular file`, {
      details: { path: absPath },
    });
  }
  return walkedFile(relPath, absPath, stats);
}

function walkedFile(relPath: string, absPath: string, stats: Stats): WalkedFile {
  return {
    relPath,
    absPath,
    size: stats.size,
    mtimeMs: stats.mtimeMs,
    ctimeMs: stats.ctimeMs,
    ino: stats.ino,
    mode: stats.mode,
  };
}

function statFailure(relPath: string, err: unknown): WalkSkip {
  const code = systemErrorCode(err);
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return { relPath, reason: 'vanished', message: 'vanished during the walk' };
  }
  return { relPath, reason: 'unreadable', message: `cannot stat: ${code ?? errorMessage(err)}` };
}

function specialFileMessage(entry: Dirent<Buffer>): string {
  if (entry.isFIFO()) return 'named pipe (FIFO)';
  if (entry.isSocket()) return 'socket';
  if (entry.isBlockDevice()) return 'block device';
  if (entry.isCharacterDevice()) return 'character device';
  return 'not a regular file, directory or symlink';
}

/** Who the process is, for telling unreadable files without opening them. */
interface Reader {
  uid: number | undefined;
  groups: ReadonlySet<number>;
}

function currentReader(): Reader {
  const uid = process.getuid?.();
  const groups = new Set(process.getgroups?.() ?? []);
  const gid = process.getgid?.();
  if (gid !== undefined) groups.add(gid);
  return { uid, groups };
}

/**
 * Whether the mode bits let this process read the file: decided without a
 * syscall. When they say no, `isAccessible` asks access(2), as ACLs may allow it.
 */
function readableByMode(reader: Reader, stats: Stats): boolean {
  if (reader.uid === undefined || reader.uid === 0) return true;
  const bit = stats.uid === reader.uid ? 0o400 : reader.groups.has(stats.gid) ? 0o040 : 0o004;
  return (stats.mode & bit) !== 0;
}

async function isAccessible(absPath: string): Promise<boolean> {
  try {
    await access(absPath, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

function isWithin(rootReal: string, target: string): boolean {
  if (target === rootReal) return true;
  const prefix = rootReal.endsWith(path.sep) ? rootReal : rootReal + path.sep;
  return target.startsWith(prefix);
}

function joinRel(relDir: string, name: string): string {
  return relDir === '' ? name : `${relDir}/${name}`;
}

function byRelPath(a: { relPath: string }, b: { relPath: string }): number {
  return a.relPath < b.relPath ? -1 : a.relPath > b.relPath ? 1 : 0;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) {
    throw new BucketspaceError('ABORTED', 'workspace walk aborted', { cause: signal.reason });
  }
}

/** Runs `visit` over a growing set of directories, at most `limit` at a time. */
async function drain(
  start: string,
  limit: number,
  visit: (relDir: string) => Promise<string[]>,
): Promise<void> {
  const pending = [start];
  let running = 0;
  let failed = false;
  await new Promise<void>((resolve, reject) => {
    const launch = (): void => {
      if (failed) return;
      if (running === 0 && pending.length === 0) {
        resolve();
        return;
      }
      while (running < limit && pending.length > 0) {
        const relDir = pending.pop() ?? '';
        running++;
        visit(relDir).then(
          (subdirectories) => {
            running--;
            for (const subdirectory of subdirectories) pending.push(subdirectory);
            launch();
          },
          (err: unknown) => {
            failed = true;
            reject(err instanceof Error ? err : new Error(String(err)));
          },
        );
      }
    };
    launch();
  });
}
