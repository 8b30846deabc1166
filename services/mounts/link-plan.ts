import { dirname, join, resolve, sep } from 'node:path';

/** What is at a path, as lstat and readlink see it (a symlink is never followed). */
export type PathState =
  | { kind: 'missing' }
  | { kind: 'symlink'; target: string }
  | { kind: 'file' }
  | { kind: 'directory' }
  | { kind: 'other' };

export type LinkDecision =
  { action: 'create' } | { action: 'keep' } | { action: 'refuse'; reason: string };

export type UnlinkDecision =
  { action: 'remove' } | { action: 'gone' } | { action: 'leave'; reason: string };

/** The symlink for a root: `<root>/<bucket>`. */
export function linkPathFor(root: string, bucket: string): string {
  return join(root, bucket);
}

/** Whether a symlink at `link` with this target leads to `mountPoint` (relative targets too). */
export function pointsAt(link: string, target: string, mountPoint: string): boolean {
  return resolve(dirname(link), target) === resolve(mountPoint);
}

function describe(state: PathState): string {
  switch (state.kind) {
    case 'symlink':
      return `a symlink to ${state.target}`;
    case 'file':
      return 'a file';
    case 'directory':
      return 'a directory';
    default:
      return 'something that is not a symlink';
  }
}

/** Create the link, keep ours, or refuse: nothing that is not our symlink is ever replaced. */
export function planLink(link: string, mountPoint: string, state: PathState): LinkDecision {
  if (state.kind === 'missing') return { action: 'create' };
  if (state.kind === 'symlink' && pointsAt(link, state.target, mountPoint))
    return { action: 'keep' };
  return {
    action: 'refuse',
    reason: `${link} is already ${describe(state)}, not a link to ${mountPoint}; move it away or pick another --root`,
  };
}

/** Remove only a symlink that still points at our mount; anything else stays and is reported. */
export function planUnlink(link: string, mountPoint: string, state: PathState): UnlinkDecision {
  if (state.kind === 'missing') return { action: 'gone' };
  if (state.kind === 'symlink' && pointsAt(link, state.target, mountPoint))
    return { action: 'remove' };
  return {
    action: 'leave',
    reason: `left ${link} alone: it is now ${describe(state)}, not a link to ${mountPoint}`,
  };
}

export function isInside(path: string, dir: string): boolean {
  const p = resolve(path);
  const d = resolve(dir);
  return p === d || p.startsWith(d.endsWith(sep) ? d : d + sep);
}

/** System directories where no link of ours belongs, and anything inside them. */
const SYSTEM_TREES: readonly string[] = [
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/proc',
  '/sbin',
  '/sys',
  '/usr',
  '/System',
  '/private/etc',
];

/** Directories that are fine to have links below, but are no place for `<dir>/<bucket>` themselves. */
const SYSTEM_DIRS: readonly string[] = [
  '/',
  '/home',
  '/Users',
  '/Library',
  '/private',
  '/run',
  '/var',
];

/** Why a root is a system directory (checked as given and resolved), or undefined. */
function systemRootProblem(path: string, root: string): string | undefined {
  const p = resolve(path);
  const tree = SYSTEM_TREES.find((t) => isInside(p, t));
  if (tree !== undefined || SYSTEM_DIRS.includes(p)) {
    return `--root ${root} is ${p === resolve(root) ? '' : `(through symlinks) ${p}, `}a system directory: links are never made there; pick a directory of yours, e.g. ~/data`;
  }
  return undefined;
}

/**
 * Why a root may not hold links, or undefined: a system directory (`/`,
 * `/etc`, anything in `/proc`...), as given or resolved through symlinks, or a
 * directory inside the mount directory (a link there would be inside a mount,
 * or be the mount point itself). Pure; `realRoot` and `realMountDir` are
 * resolved through symlinks by the caller.
 */
export function rootProblem(options: {
  root: string;
  /** `root` with `~` expanded, made absolute. */
  absRoot: string;
  realRoot: string;
  realMountDir: string;
}): string | undefined {
  const { root, absRoot, realRoot, realMountDir } = options;
  const system = systemRootProblem(absRoot, root) ?? systemRootProblem(realRoot, root);
  if (system !== undefined) return system;
  return isInside(realRoot, realMountDir)
    ? `--root ${root} is inside the mount directory ${realMountDir}: a link there would be inside a mount; pick a directory outside it`
    : undefined;
}
