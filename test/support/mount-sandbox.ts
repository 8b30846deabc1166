import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { silentLogger } from '../../services/common/logger.ts';
import { openMountContext, type MountContext } from '../../services/mounts/mount-context.ts';
import { parseMountinfo } from '../../services/mounts/mount-table.ts';
import type { S3Fixture } from './s3-fixture.ts';

/**
 * One test's mount directory, registry and roots under a fresh temp dir, and
 * the environment that points the CLI (or an in-process manager) at them and
 * at the test S3 server. `cleanup()` lazily unmounts everything under the
 * temp dir and kills the mount processes whose argv names it.
 */
export interface MountSandbox {
  dir: string;
  mountDir: string;
  registry: string;
  root(name: string): string;
  env(extra?: Record<string, string>): Record<string, string>;
  /** A manager in this process, on the same registry and settings as the CLI. */
  open(extra?: Record<string, string>, fuseDevice?: string): MountContext;
  cleanup(): Promise<void>;
}

export async function makeSandbox(fixture: S3Fixture): Promise<MountSandbox> {
  const dir = await mkdtemp(join(tmpdir(), 'bucketspace-mounts-'));
  const mountDir = join(dir, 'mnt');
  const registry = join(dir, 'state', 'mounts.db');
  const env = (extra: Record<string, string> = {}) => ({
    ...fixture.s3.env('unused-bucket'),
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: join(dir, 'home'),
    MOUNT_DIR: mountDir,
    MOUNT_REGISTRY: registry,
    MOUNT_DEFAULT_ROOT: join(dir, 'default-root'),
    // rclone 1.60 refuses to start with this set; the engine must remove it.
    AWS_CA_BUNDLE: process.env.AWS_CA_BUNDLE ?? '/etc/ssl/certs/ca-certificates.crt',
    ...extra,
  });
  return {
    dir,
    mountDir,
    registry,
    root: (name) => join(dir, 'roots', name),
    env,
    open: (extra, fuseDevice) =>
      openMountContext({ env: env(extra), logger: silentLogger(), fuseDevice }),
    cleanup: () => cleanupUnder(dir),
  };
}

/** Mounts (from the mount table) under `dir`. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const table = parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'));
  return table.map((e) => e.mountPoint).filter((p) => p.startsWith(`${dir}/`));
}

/** Pids of processes whose argv mentions `dir` (the mount processes a test started). */
export async function processesUsing(dir: string): Promise<number[]> {
  const out: number[] = [];
  for (const pid of (await readdir('/proc')).filter((d) => /^\d+$/.test(d))) {
    if (Number(pid) === process.pid) continue;
    const argv = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (argv.includes(`${dir}/`)) out.push(Number(pid));
  }
  return out;
}

async function cleanupUnder(dir: string): Promise<void> {
  for (const mp of await mountsUnder(dir)) {
    try {
      execFileSync('fusermount', ['-uz', mp], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
  for (const pid of await processesUsing(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await rm(dir, { recursive: true, force: true });
}

/** A new bucket holding `files`. */
export async function seedBucket(
  client: S3Client,
  bucket: string,
  files: Record<string, string>,
): Promise<void> {
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  for (const [key, body] of Object.entries(files)) {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  }
}

/** Poll `check` until it returns a value (not undefined), or fail after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
