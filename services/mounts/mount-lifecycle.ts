import { mkdir, readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BucketspaceError, errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { withBucketLease } from './bucket-lease.ts';
import { ensureLinks, removeLinks } from './mount-links.ts';
import { endMountProcess, launchMount } from './mount-process.ts';
import type { MountRegistry } from './mount-registry.ts';
import { ensurePrivateDir } from './private-path.ts';
import {
  checkedLinks,
  mountPointProblem,
  sourceProblem,
  type RecordTrust,
} from './record-check.ts';
import { rcloneEngine } from './rclone-engine.ts';
import { s3fsEngine } from './s3fs-engine.ts';
import {
  ENGINE_NAMES,
  type Credentials,
  type EngineName,
  type HealthResult,
  type MountEngine,
  type MountHost,
  type MountRecord,
} from './types.ts';

export interface MountConfig {
  /** Parent of the canonical mount points (MOUNT_DIR). */
  mountDir: string;
  /** Root used when none is given (MOUNT_DEFAULT_ROOT). */
  defaultRoot: string;
  home: string;
  /** Logs and caches of the mount processes. */
  stateDir: string;
  defaultEngine: EngineName;
  /** An rclone remote to mount from instead of the S3 settings (MOUNT_RCLONE_REMOTE). */
  rcloneRemote: string | undefined;
  startTimeoutMs: number;
  healthTimeoutMs: number;
  /** The uid of this process: mounts it records are its own (undefined: no POSIX owners). */
  uid: number | undefined;
}

/** The S3 settings of this process: where new mounts point, and the keys used to start any mount. */
export interface S3Connection {
  endpoint: string | undefined;
  region: string;
  forcePathStyle: boolean;
  credentials: Credentials | undefined;
}

export interface MountManagerOptions {
  registry: MountRegistry;
  host: MountHost;
  config: MountConfig;
  s3: S3Connection;
  /** Environment the mount programs inherit (PATH, HOME, proxies...). */
  baseEnv: Readonly<Record<string, string | undefined>>;
  logger: Logger;
  engines?: Record<EngineName, MountEngine>;
}

export interface MountResult {
  record: MountRecord;
  /** Links that could not be made (something else at the path), each explained. */
  problems: string[];
}

export interface UnmountResult {
  record: MountRecord | undefined;
  removedLinks: string[];
  /** Paths that were not our link any more, left alone, each explained. */
  leftAlone: string[];
}

/**
 * The steps every operation is made of, run while holding the bucket's lease:
 * check health, mount (and wait for it), unmount (and end the process), links.
 */
export class MountLifecycle {
  readonly o: MountManagerOptions;
  private readonly engines: Record<EngineName, MountEngine>;

  constructor(options: MountManagerOptions) {
    this.o = options;
    this.engines = options.engines ?? { rclone: rcloneEngine, s3fs: s3fsEngine };
  }

  require(bucket: string): MountRecord {
    const rec = this.o.registry.get(bucket);
    if (!rec) {
      throw new BucketspaceError(
        'NOT_FOUND',
        `no mount for bucket ${bucket} (see \`bucketspace mount list\`)`,
        { details: { bucket } },
      );
    }
    return rec;
  }

  lease<T>(bucket: string, fn: () => Promise<T>): Promise<T> {
    const { startTimeoutMs } = this.o.config;
    return withBucketLease(
      this.o.registry,
      bucket,
      {
        ttlMs: startTimeoutMs * 2 + 60_000,
        waitMs: startTimeoutMs * 2 + 30_000,
        pidAlive: (pid) => this.o.host.pidAlive(pid),
      },
      fn,
    );
  }

  /** What the registry's records are checked against before anything is done with them. */
  get trust(): RecordTrust {
    return { mountDir: this.o.config.mountDir, uid: this.o.config.uid, s3: this.o.s3 };
  }

  /** A record's mount point and source, checked before it is mounted or unmounted. */
  refuseUntrusted(rec: MountRecord, checks: 'mount' | 'unmount'): void {
    const problems = [
      mountPointProblem(rec, this.trust),
      checks === 'mount' ? sourceProblem(rec, this.trust) : undefined,
    ].filter((p): p is string => p !== undefined);
    if (problems.length > 0) {
      throw new BucketspaceError('CONFLICT', problems.join('; '), {
        details: { bucket: rec.bucket, problems },
      });
    }
  }

  engine(name: string): MountEngine {
    if (!(ENGINE_NAMES as readonly string[]).includes(name)) {
      throw new BucketspaceError(
        'INVALID_INPUT',
        `unknown engine "${name}": use ${ENGINE_NAMES.join(' or ')}`,
      );
    }
    return this.engines[name as EngineName];
  }

  /** Mount point present and answering a timed stat. */
  async checkHealth(rec: MountRecord): Promise<HealthResult> {
    const { host } = this.o;
    if (!(await host.isMounted(rec.mountPoint))) {
      return { healthy: false, mounted: false, reason: 'not mounted' };
    }
    const stat = await host.statTimed(rec.mountPoint, this.o.config.healthTimeoutMs);
    return stat.ok
      ? { healthy: true, mounted: true, reason: null }
      : { healthy: false, mounted: true, reason: stat.reason };
  }

  /**
   * Mount (unless a healthy mount is there already) and make the links. Any
   * failure is recorded on the mount (state `error`, last error) and thrown.
   */
  async start(bucket: string): Promise<MountResult> {
    try {
      return await this.mount(bucket);
    } catch (err) {
      const { registry } = this.o;
      if (registry.get(bucket)) {
        registry.transaction(() => {
          registry.recordFailure(bucket, errorMessage(err), 'error');
          registry.setStatus(bucket, { pid: null, healthy: false, checked: true });
        });
      }
      throw err;
    }
  }

  private async mount(bucket: string): Promise<MountResult> {
    const rec = this.require(bucket);
    this.refuseUntrusted(rec, 'mount');
    const { host, registry, logger } = this.o;
    const health = await this.checkHealth(rec);
    if (health.healthy) {
      registry.setStatus(bucket, { state: 'running', healthy: true, checked: true });
      return this.finishLinks(bucket);
    }
    if (health.mounted) {
      logger.warn(
        { bucket, reason: health.reason },
        'unmounting a stale mount before mounting again',
      );
      await host.unmount(rec.mountPoint, { lazy: true });
    }
    if (rec.pid !== null) await endMountProcess(host, rec.pid, rec.mountPoint);
    const engine = this.engine(rec.engine);
    ensurePrivateDir({
      dir: this.o.config.mountDir,
      uid: this.o.config.uid,
      what: 'the mount directory (MOUNT_DIR)',
      code: 'MOUNT_UNAVAILABLE',
    });
    await mkdir(rec.mountPoint, { recursive: true });
    const leftovers = await readdir(rec.mountPoint);
    if (leftovers.length > 0) {
      const message = `mount point ${rec.mountPoint} is not empty (${leftovers.slice(0, 3).join(', ')}${leftovers.length > 3 ? ', ...' : ''}): something wrote there while it was not mounted; move those files away`;
      throw new BucketspaceError('MOUNT_FAILED', message, { details: { bucket } });
    }
    const command = engine.command(
      {
        bucket,
        mountPoint: rec.mountPoint,
        source: rec.source,
        options: rec.options,
        credentials: rec.source.kind === 's3' ? this.o.s3.credentials : undefined,
        cacheDir: join(this.o.config.stateDir, 'mount-cache', bucket),
      },
      this.o.baseEnv,
    );
    const logFile = join(this.o.config.stateDir, 'mount-logs', `${bucket}.log`);
    logger.info({ bucket, mountPoint: rec.mountPoint, engine: engine.name }, 'mounting');
    const outcome = await launchMount({
      host,
      command,
      logFile,
      mountPoint: rec.mountPoint,
      startTimeoutMs: this.o.config.startTimeoutMs,
      statTimeoutMs: this.o.config.healthTimeoutMs,
    });
    if (!outcome.ok) {
      await this.cleanUpFailedStart(rec.mountPoint, outcome.pid);
      const message = `could not mount s3://${bucket} with ${engine.name}: ${outcome.reason} (log: ${logFile})`;
      throw new BucketspaceError('MOUNT_FAILED', message, {
        retryable: true,
        details: { bucket, logFile },
      });
    }
    registry.transaction(() => {
      registry.setStatus(bucket, {
        state: 'running',
        pid: outcome.pid,
        healthy: true,
        checked: true,
      });
      registry.recordEvent(bucket, 'info', `mounted at ${rec.mountPoint} (pid ${outcome.pid})`);
    });
    logger.info({ bucket, pid: outcome.pid }, 'mounted');
    return this.finishLinks(bucket);
  }

  private async cleanUpFailedStart(mountPoint: string, pid: number): Promise<void> {
    try {
      if (this.o.host.pidAlive(pid)) process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
    if (await this.o.host.isMounted(mountPoint)) {
      await this.o.host.unmount(mountPoint, { lazy: true }).catch(() => undefined);
    }
  }

  private async finishLinks(bucket: string): Promise<MountResult> {
    const rec = this.require(bucket);
    const { links, problems } = checkedLinks(rec, this.trust);
    problems.push(...(await ensureLinks(links, rec.mountPoint)));
    return { record: this.require(bucket), problems };
  }

  async stop(
    bucket: string,
    options: { force: boolean; keepLinks: boolean },
  ): Promise<UnmountResult> {
    const rec = this.require(bucket);
    this.refuseUntrusted(rec, 'unmount');
    const { host, registry, logger } = this.o;
    if (await host.isMounted(rec.mountPoint)) {
      logger.info({ bucket, mountPoint: rec.mountPoint, lazy: options.force }, 'unmounting');
      await host.unmount(rec.mountPoint, { lazy: options.force });
    }
    if (rec.pid !== null) {
      await endMountProcess(host, rec.pid, rec.mountPoint, options.force ? 200 : 5000);
    }
    const links = options.keepLinks
      ? { removed: [], leftAlone: [] }
      : await removeLinks(rec.links, rec.mountPoint);
    if (!(await host.isMounted(rec.mountPoint))) await rmdir(rec.mountPoint).catch(() => undefined);
    registry.transaction(() => {
      registry.setStatus(bucket, { state: 'stopped', pid: null, healthy: null });
      registry.recordEvent(bucket, 'info', 'unmounted');
    });
    logger.info({ bucket, removedLinks: links.removed.length }, 'unmounted');
    return {
      record: this.require(bucket),
      removedLinks: links.removed,
      leftAlone: links.leftAlone,
    };
  }
}
