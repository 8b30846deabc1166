/**
 * The mount manager from TypeScript, as the seed's Python API:
 *
 *   await mountBucket('teamspace-lrm', { roots: ['~/project1/data'] });
 *   await isMounted('teamspace-lrm');       // true
 *   await listMounts();                     // every recorded mount
 *   await unmountBucket('teamspace-lrm');   // mount and every link gone
 *
 * Settings come from `env` (default: this process's environment), exactly as
 * for the CLI: S3_*, MOUNT_DIR, MOUNT_REGISTRY, MOUNT_ENGINE...
 */
import { silentLogger, type Logger } from '../common/logger.ts';
import { openMountContext, type MountContext } from './mount-context.ts';
import type { AddInput, UnmountResult } from './mount-manager.ts';
import type { MountRecord } from './types.ts';

export interface MountApiOptions {
  env?: Readonly<Record<string, string | undefined>>;
  logger?: Logger;
}

export type MountBucketOptions = MountApiOptions & Omit<AddInput, 'bucket'>;

async function withContext<T>(
  options: MountApiOptions,
  fn: (ctx: MountContext) => Promise<T>,
): Promise<T> {
  const ctx = openMountContext({
    // eslint-disable-next-line no-restricted-properties -- a library entry point: like main, it reads the environment once per call unless given one
    env: options.env ?? process.env,
    logger: options.logger ?? silentLogger(),
  });
  try {
    return await fn(ctx);
  } finally {
    ctx.close();
  }
}

/** Mount once, link `<root>/<bucket>` for each root; returns the mount point and the links. */
export async function mountBucket(
  bucket: string,
  options: MountBucketOptions = {},
): Promise<{ mountPoint: string; links: string[]; problems: string[] }> {
  const { env, logger, ...input } = options;
  return withContext({ env, logger }, async ({ manager }) => {
    const { record, problems } = await manager.add({ ...input, bucket });
    return { mountPoint: record.mountPoint, links: record.links.map((l) => l.path), problems };
  });
}

/** Unmount, remove every link still pointing at the mount, and forget it. */
export async function unmountBucket(
  bucket: string,
  options: MountApiOptions & { force?: boolean } = {},
): Promise<UnmountResult> {
  return withContext(options, ({ manager }) => manager.remove(bucket, { force: options.force }));
}

/** Mounted and answering a stat now. */
export async function isMounted(bucket: string, options: MountApiOptions = {}): Promise<boolean> {
  return withContext(options, ({ manager }) => manager.isMounted(bucket));
}

/** Every recorded mount: state, pid, health, last error, links. */
export async function listMounts(options: MountApiOptions = {}): Promise<MountRecord[]> {
  return withContext(options, ({ manager }) => Promise.resolve(manager.list()));
}
