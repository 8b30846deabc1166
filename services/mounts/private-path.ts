import { lstatSync, mkdirSync, realpathSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { BucketspaceError, systemErrorCode } from '../common/errors.ts';

/** What lstat says of one path on the way, as far as ownership goes. */
export interface EntryFacts {
  uid: number;
  mode: number;
  kind: 'directory' | 'file' | 'symlink' | 'other';
}

/** `755`-style text of the permission bits (`1777` with the sticky bit). */
function modeText(mode: number): string {
  return (mode & 0o7777).toString(8);
}

/**
 * What is wrong with one entry of a path that must stay ours, or undefined.
 * Pure. The entry itself (`role: 'own'`: the mount directory, the registry's
 * directory and files) must belong to `uid` and be writable by nobody else.
 * Every directory above it (`role: 'ancestor'`) and every symlink on the way
 * must belong to `uid` or root, and a directory others may write must have
 * the sticky bit (like /tmp), or they could rename what we checked and put
 * their own in its place.
 */
export function entryProblem(
  path: string,
  facts: EntryFacts,
  options: { uid: number; role: 'own' | 'ancestor' },
): string | undefined {
  const { uid, role } = options;
  const owner = `owner uid ${facts.uid}, mode ${modeText(facts.mode)}`;
  if (role === 'own') {
    if (facts.uid !== uid || (facts.mode & 0o022) !== 0) {
      return `${path} must belong to you and be writable only by you (${owner}; you are uid ${uid})`;
    }
    return undefined;
  }
  if (facts.uid !== uid && facts.uid !== 0) {
    return `${path} belongs to another user (${owner}), who could swap what lies below it`;
  }
  if (facts.kind === 'directory' && (facts.mode & 0o022) !== 0 && (facts.mode & 0o1000) === 0) {
    return `${path} is writable by other users without the sticky bit (${owner}), so they could swap what lies below it`;
  }
  return undefined;
}

function facts(path: string): EntryFacts | undefined {
  try {
    const st = lstatSync(path);
    const kind = st.isSymbolicLink()
      ? 'symlink'
      : st.isDirectory()
        ? 'directory'
        : st.isFile()
          ? 'file'
          : 'other';
    return { uid: st.uid, mode: st.mode, kind };
  } catch (err) {
    if (systemErrorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** `/a/b/c` -> `/`, `/a`, `/a/b` (the directories above `path`). */
function ancestors(path: string): string[] {
  const out: string[] = [];
  let p = dirname(resolve(path));
  for (;;) {
    out.unshift(p);
    const up = dirname(p);
    if (up === p) return out;
    p = up;
  }
}

/** Every problem on the way to `path` (lexically, and through its real path). */
function pathProblems(path: string, uid: number, own: string[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const check = (p: string, role: 'own' | 'ancestor') => {
    if (seen.has(`${role}:${p}`)) return;
    seen.add(`${role}:${p}`);
    const f = facts(p);
    if (f === undefined) return;
    const problem = entryProblem(p, f, { uid, role });
    if (problem !== undefined) problems.push(problem);
  };
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    real = path;
  }
  for (const start of new Set([resolve(path), real])) {
    for (const a of ancestors(start)) check(a, 'ancestor');
  }
  for (const p of own) check(p, 'own');
  if (real !== resolve(path)) check(real, 'own');
  return problems;
}

/**
 * Make `dir` (mode 0700 when created) and check that it, every directory
 * above it, and `files` that exist in it are safe from other users; throws
 * with every problem named, and `what` (e.g. "the mount directory (MOUNT_DIR)")
 * and what to do. `uid` undefined (no POSIX owners): nothing to check.
 */
export function ensurePrivateDir(options: {
  dir: string;
  files?: string[];
  uid: number | undefined;
  what: string;
  code: 'MOUNT_UNAVAILABLE' | 'CONFIG_INVALID';
}): void {
  const { dir, uid } = options;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new BucketspaceError(
      options.code,
      `cannot create ${options.what} ${dir}: ${systemErrorCode(err) ?? String(err)}`,
      {
        cause: err,
        details: { dir },
      },
    );
  }
  if (uid === undefined) return;
  const files = (options.files ?? []).map((f) => (f.includes(sep) ? f : join(dir, f)));
  const problems = pathProblems(dir, uid, [resolve(dir), ...files]);
  if (problems.length > 0) {
    throw new BucketspaceError(
      options.code,
      `refusing ${options.what} ${dir}: ${problems.join('; ')}. Another user could change what it says; move it to a directory only you can write (or fix the owner and mode)`,
      { details: { dir, problems } },
    );
  }
}
