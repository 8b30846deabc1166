import { lstat, mkdir, readlink, realpath, stat, symlink, unlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { BucketspaceError, systemErrorCode } from '../common/errors.ts';
import { linkPathFor, planLink, planUnlink, rootProblem, type PathState } from './link-plan.ts';
import type { MountLink } from './types.ts';

/** What is at `path`, without following a symlink there. */
export async function pathState(path: string): Promise<PathState> {
  try {
    const st = await lstat(path);
    if (st.isSymbolicLink()) return { kind: 'symlink', target: await readlink(path) };
    if (st.isDirectory()) return { kind: 'directory' };
    if (st.isFile()) return { kind: 'file' };
    return { kind: 'other' };
  } catch (err) {
    if (systemErrorCode(err) === 'ENOENT') return { kind: 'missing' };
    throw err;
  }
}

/** realpath of the deepest existing ancestor, with the rest appended. */
export async function realpathExisting(path: string): Promise<string> {
  const rest: string[] = [];
  let p = resolve(path);
  for (;;) {
    try {
      return join(await realpath(p), ...rest.reverse());
    } catch (err) {
      const code = systemErrorCode(err);
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || dirname(p) === p) throw err;
      rest.push(basename(p));
      p = dirname(p);
    }
  }
}

/** `~` and `~/x` are the home directory; relative roots are relative to the current directory. */
export function expandRoot(root: string, home: string): string {
  if (root === '~') return home;
  if (root.startsWith('~/')) return join(home, root.slice(2));
  return resolve(root);
}

/**
 * Why `root` cannot be a directory to put links in: it, or the nearest thing
 * that exists above it, is a file (or anything but a directory).
 */
async function notADirectory(root: string, given: string): Promise<string | undefined> {
  let p = resolve(root);
  for (;;) {
    try {
      const st = await stat(p);
      if (st.isDirectory()) return undefined;
      return p === resolve(root)
        ? `--root ${given} is a file, not a directory; pick a directory (it is created when missing)`
        : `--root ${given} cannot be created: ${p} is a file, not a directory`;
    } catch (err) {
      const code = systemErrorCode(err);
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || dirname(p) === p) throw err;
      p = dirname(p);
    }
  }
}

/**
 * Turn roots into links, refusing (before anything changes) a system
 * directory, a file, a root inside the mount directory, and a path already
 * holding something that is not our link.
 */
export async function planLinks(options: {
  roots: string[];
  bucket: string;
  mountPoint: string;
  mountDir: string;
  home: string;
}): Promise<MountLink[]> {
  const realMountDir = await realpathExisting(options.mountDir);
  const links: MountLink[] = [];
  for (const given of options.roots) {
    const root = expandRoot(given, options.home);
    const problem =
      rootProblem({
        root: given,
        absRoot: root,
        realRoot: await realpathExisting(root),
        realMountDir,
      }) ?? (await notADirectory(root, given));
    if (problem) throw new BucketspaceError('INVALID_INPUT', problem, { details: { root: given } });
    const path = linkPathFor(root, options.bucket);
    const decision = planLink(path, options.mountPoint, await pathState(path));
    if (decision.action === 'refuse') {
      throw new BucketspaceError('CONFLICT', decision.reason, { details: { path } });
    }
    if (!links.some((l) => l.path === path)) links.push({ root, path });
  }
  return links;
}

/** Create missing links; keep ours; report (never replace) anything else. */
export async function ensureLinks(links: MountLink[], mountPoint: string): Promise<string[]> {
  const problems: string[] = [];
  for (const link of links) {
    const decision = planLink(link.path, mountPoint, await pathState(link.path));
    if (decision.action === 'refuse') problems.push(decision.reason);
    if (decision.action !== 'create') continue;
    try {
      await mkdir(link.root, { recursive: true });
      await symlink(mountPoint, link.path);
    } catch (err) {
      const again = planLink(link.path, mountPoint, await pathState(link.path));
      if (again.action === 'keep') continue; // another process made the same link
      problems.push(
        again.action === 'refuse'
          ? again.reason
          : `cannot create ${link.path}: ${systemErrorCode(err) ?? String(err)}`,
      );
    }
  }
  return problems;
}

/** Remove the links that still point at the mount; say which paths were left alone and why. */
export async function removeLinks(
  links: MountLink[],
  mountPoint: string,
): Promise<{ removed: string[]; leftAlone: string[] }> {
  const removed: string[] = [];
  const leftAlone: string[] = [];
  for (const link of links) {
    const decision = planUnlink(link.path, mountPoint, await pathState(link.path));
    if (decision.action === 'leave') leftAlone.push(decision.reason);
    if (decision.action !== 'remove') continue;
    try {
      await unlink(link.path);
      removed.push(link.path);
    } catch (err) {
      if (systemErrorCode(err) !== 'ENOENT') {
        leftAlone.push(`could not remove ${link.path}: ${systemErrorCode(err) ?? String(err)}`);
      }
    }
  }
  return { removed, leftAlone };
}

export function requireAbsolute(roots: string[]): void {
  const relative = roots.filter((r) => !isAbsolute(r));
  if (relative.length > 0) {
    throw new BucketspaceError(
      'INVALID_INPUT',
      `roots must be absolute paths here: ${relative.join(', ')}`,
    );
  }
}
