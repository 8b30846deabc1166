import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { BucketspaceError } from '../common/errors.ts';
import type { MountRegistry } from './mount-registry.ts';

export interface LeaseOptions {
  /** How long a holder may keep it without finishing (it expires after that). */
  ttlMs: number;
  /** How long to wait for another holder before giving up with CONFLICT. */
  waitMs: number;
  pidAlive: (pid: number) => boolean;
}

/**
 * Run `fn` while holding the bucket's lease in the registry, so two processes
 * (CLI calls, the daemon, the monitor) never mount or unmount the same bucket
 * at once. Mounting takes seconds, longer than a database transaction should.
 */
export async function withBucketLease<T>(
  registry: MountRegistry,
  bucket: string,
  options: LeaseOptions,
  fn: () => Promise<T>,
): Promise<T> {
  const token = randomBytes(8).toString('hex');
  const deadline = Date.now() + options.waitMs;
  for (;;) {
    const got = registry.tryLease(bucket, token, options.ttlMs, options.pidAlive);
    if (got.ok) break;
    if (Date.now() >= deadline) {
      throw new BucketspaceError(
        'CONFLICT',
        `bucket ${bucket} is busy: process ${got.pid} on ${got.host} is mounting or unmounting it; try again`,
        { retryable: true, details: { bucket, pid: got.pid } },
      );
    }
    await sleep(30 + Math.floor(Math.random() * 70));
  }
  try {
    return await fn();
  } finally {
    registry.releaseLease(bucket, token);
  }
}
