import { join, posix } from 'node:path';
import { stateDirFor } from '../common/state-dir.ts';

/** What the defaults depend on; gathered once in main, so the decisions stay pure. */
export interface PlatformFacts {
  platform: NodeJS.Platform;
  env: Readonly<Record<string, string | undefined>>;
  home: string;
  user: string;
}

export type PlatformKind = 'lightning' | 'slurm' | 'linux' | 'macos' | 'unsupported';

/** Lightning Studio and SLURM jobs are Linux with their own conventions (as in the seed). */
export function platformKind(facts: PlatformFacts): PlatformKind {
  if (facts.platform === 'darwin') return 'macos';
  if (facts.platform !== 'linux') return 'unsupported';
  if (set(facts.env.LIGHTNING_CLOUD_SPACE_ID)) return 'lightning';
  if (set(facts.env.SLURM_JOB_ID)) return 'slurm';
  return 'linux';
}

function set(v: string | undefined): boolean {
  return v !== undefined && v !== '';
}

/**
 * Where `<root>/<bucket>` symlinks go when no --root is given. SLURM jobs use
 * node-local /tmp (home is shared between nodes, mounts are not); everywhere
 * else ~/s3_buckets (on Lightning Studio the home is the persistent studio).
 */
export function defaultRoot(facts: PlatformFacts): string {
  return platformKind(facts) === 'slurm'
    ? posix.join('/tmp', facts.user, 's3_buckets')
    : join(facts.home, 's3_buckets');
}

/** Parent of the canonical mount points: one directory per bucket, on local disk. */
export function defaultMountDir(facts: PlatformFacts): string {
  return posix.join('/tmp', facts.user, 'bucketspace');
}

/**
 * The registry: in the XDG state directory; under SLURM in node-local /tmp,
 * because a registry on a home shared by every node would describe mounts
 * that exist on another node (and SQLite's WAL needs a local disk).
 */
export function defaultRegistryPath(facts: PlatformFacts): string {
  if (platformKind(facts) === 'slurm') {
    return posix.join('/tmp', facts.user, 'bucketspace-state', 'mounts.db');
  }
  return join(stateDirFor(facts), 'mounts.db');
}

/** How to unmount a FUSE mount here: fusermount on Linux, umount on macOS (macFUSE). */
export function unmountCommand(
  kind: PlatformKind,
  mountPoint: string,
  options: { lazy: boolean; fusermount: string },
): { file: string; args: string[] } {
  if (kind === 'macos') {
    return { file: 'umount', args: options.lazy ? ['-f', mountPoint] : [mountPoint] };
  }
  return { file: options.fusermount, args: [options.lazy ? '-uz' : '-u', mountPoint] };
}

/** Where FUSE comes from, for error messages. */
export function fuseInstallHint(kind: PlatformKind): string {
  return kind === 'macos'
    ? 'install macFUSE (https://osxfuse.github.io) and allow its system extension'
    : 'install FUSE (apt-get install fuse3, or dnf install fuse3); in a container, add --device /dev/fuse --cap-add SYS_ADMIN';
}
