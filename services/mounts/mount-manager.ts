import { mkdir, readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BucketspaceError, errorMessage, isBucketspaceError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import { withBucketLease } from './bucket-lease.ts';
import { parseBucketRef } from './bucket-ref.ts';
import { ensureLinks, planLinks, removeLinks } from './mount-links.ts';
import {
  optionConflicts,
  resolveOptions,
  type MountOptionsInput,
  DEFAULT_OPTIONS,
  needsRemount,
} from './mount-options.ts';
import { endMountProcess, launchMount } from './mount-process.ts';
import type { MountRegistry } from './mount-registry.ts';
import { rcloneEngine } from './rclone-engine.ts';
import { s3fsEngine } from './s3fs-engine.ts';
import {
  ENGINE_NAMES,
  type Credentials,
  type EngineName,
  type HealthResult,
  type MountEngine,
  type MountHost,
  type MountLink,
  type MountRecord,
  type MountSource,
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

export interface AddInput extends MountOptionsInput {
  bucket: string;
  roots?: string[];
  auto?: boolean;
  engine?: string;
  /** Mount from this rclone remote (rclone.conf) instead of the S3 settings. */
  remote?: string;
  /** Mount now (default); false only records the mount. */
  start?: boolean;
}

export interface UpdateInput extends MountOptionsInput {
  roots?: string[];
  auto?: boolean;
  engine?: string;
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

export interface StatusResult {
  record: MountRecord;
  health: HealthResult;
}

/**
 * One real mount per bucket at `<mountDir>/<bucket>`, any number of
 * `<root>/<bucket>` symlinks to it, all recorded in the registry. Every
 * operation on a bucket holds that bucket's lease, so concurrent CLI calls,
 * the daemon and the REST API never race on one mount.
 */
export class MountManager {
  private readonly o: MountManagerOptions;
  private readonly engines: Record<EngineName, MountEngine>;

  constructor(options: MountManagerOptions) {
    this.o = options;
    this.engines = options.engines ?? { rclone: rcloneEngine, s3fs: s3fsEngine };
  }

  get config(): MountConfig {
    return this.o.config;
  }

  list(): MountRecord[] {
    return this.o.registry.list();
  }

  get(bucket: string): MountRecord | undefined {
    return this.o.registry.get(bucket);
  }

  events(bucket: string, limit?: number) {
    return this.o.registry.events(bucket, limit);
  }

  mountPointFor(bucket: string): string {
    return join(this.o.config.mountDir, bucket);
  }

  private require(bucket: string): MountRecord {
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

  private lease<T>(bucket: string, fn: () => Promise<T>): Promise<T> {
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

  private engine(name: string): MountEngine {
    if (!(ENGINE_NAMES as readonly string[]).includes(name)) {
      throw new BucketspaceError(
        'INVALID_INPUT',
        `unknown engine "${name}": use ${ENGINE_NAMES.join(' or ')}`,
      );
    }
    return this.engines[name as EngineName];
  }

  private newSource(remote: string | undefined): MountSource {
    const name = remote ?? this.o.config.rcloneRemote;
    if (name !== undefined) return { kind: 'remote', name };
    const { endpoint, region, forcePathStyle } = this.o.s3;
    return { kind: 's3', endpoint: endpoint ?? null, region, forcePathStyle };
  }

  /** Record a mount (or add roots to an existing one) and mount it. */
  async add(input: AddInput): Promise<MountResult> {
    const bucket = parseBucketRef(input.bucket);
    const before = this.o.registry.get(bucket);
    const engine = this.engine(input.engine ?? before?.engine ?? this.o.config.defaultEngine);
    if (input.remote !== undefined && !/^[\w.-][\w. -]*$/.test(input.remote)) {
      throw new BucketspaceError('INVALID_INPUT', `"${input.remote}" is not an rclone remote name`);
    }
    const source = before?.source ?? this.newSource(input.remote);
    const { options, problems } = resolveOptions(input, before?.options ?? DEFAULT_OPTIONS);
    problems.push(...engine.problems(source, options));
    if (problems.length > 0) {
      throw new BucketspaceError(
        'INVALID_INPUT',
        `cannot mount ${bucket}: ${problems.join('; ')}`,
        {
          details: { problems },
        },
      );
    }
    const mountPoint = before?.mountPoint ?? this.mountPointFor(bucket);
    const roots = input.roots && input.roots.length > 0 ? input.roots : [this.o.config.defaultRoot];
    const links = await planLinks({ roots, bucket, mountPoint, ...this.o.config });
    if (input.start !== false) this.o.host.checkCanMount(engine.program, engine.installHint);
    return this.lease(bucket, async () => {
      const existing = this.o.registry.get(bucket);
      if (existing) this.refuseDifferent(existing, input, engine.name, options);
      this.o.registry.transaction(() => {
        if (!existing) {
          this.o.registry.insert({
            bucket,
            mountPoint,
            engine: engine.name,
            source,
            options,
            auto: input.auto === true,
          });
        } else if (input.auto === true && !existing.auto) {
          this.o.registry.updateConfig(bucket, { auto: true });
        }
        for (const link of links) this.o.registry.addLink(bucket, link);
      });
      if (input.start === false) return { record: this.require(bucket), problems: [] };
      return this.startLocked(bucket);
    });
  }

  private refuseDifferent(
    existing: MountRecord,
    input: AddInput,
    engine: EngineName,
    options: MountRecord['options'],
  ): void {
    const differences = optionConflicts(existing.options, options, input);
    if (input.engine !== undefined && engine !== existing.engine) {
      differences.push(`engine: mounted with ${existing.engine}, asked for ${engine}`);
    }
    const remote = existing.source.kind === 'remote' ? existing.source.name : undefined;
    if (input.remote !== undefined && input.remote !== remote) {
      differences.push(
        `source: mounted from ${remote ?? 'the S3 settings'}, asked for remote ${input.remote}`,
      );
    }
    if (differences.length > 0) {
      throw new BucketspaceError(
        'CONFLICT',
        `bucket ${existing.bucket} is already set up differently (${differences.join('; ')}); change it with the REST API (PATCH) or \`bucketspace mount remove ${existing.bucket}\` first`,
        { details: { differences } },
      );
    }
  }

  async start(bucketRef: string): Promise<MountResult> {
    const bucket = parseBucketRef(bucketRef);
    const rec = this.require(bucket);
    const engine = this.engine(rec.engine);
    this.o.host.checkCanMount(engine.program, engine.installHint);
    return this.lease(bucket, () => this.startLocked(bucket));
  }

  /** Mount (unless a healthy mount is there already) and make the links. The caller holds the lease. */
  private async startLocked(bucket: string): Promise<MountResult> {
    const rec = this.require(bucket);
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
    await mkdir(this.o.config.mountDir, { recursive: true, mode: 0o700 });
    await mkdir(rec.mountPoint, { recursive: true });
    const leftovers = await readdir(rec.mountPoint);
    if (leftovers.length > 0) {
      const message = `mount point ${rec.mountPoint} is not empty (${leftovers.slice(0, 3).join(', ')}${leftovers.length > 3 ? ', ...' : ''}): something wrote there while it was not mounted; move those files away`;
      registry.transaction(() => registry.recordFailure(bucket, message, 'error'));
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
      registry.transaction(() => {
        registry.recordFailure(bucket, message, 'error');
        registry.setStatus(bucket, { pid: null, healthy: false, checked: true });
      });
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
    const problems = await ensureLinks(rec.links, rec.mountPoint);
    return { record: this.require(bucket), problems };
  }

  /** Unmount and remove the links (the mount stays recorded; `start` brings both back). */
  async stop(bucketRef: string, options: { force?: boolean } = {}): Promise<UnmountResult> {
    const bucket = parseBucketRef(bucketRef);
    this.require(bucket);
    return this.lease(bucket, () =>
      this.stopLocked(bucket, { force: options.force === true, keepLinks: false }),
    );
  }

  /** Unmount, remove the links, and forget the mount. */
  async remove(bucketRef: string, options: { force?: boolean } = {}): Promise<UnmountResult> {
    const bucket = parseBucketRef(bucketRef);
    this.require(bucket);
    return this.lease(bucket, async () => {
      const result = await this.stopLocked(bucket, {
        force: options.force === true,
        keepLinks: false,
      });
      this.o.registry.transaction(() => this.o.registry.delete(bucket));
      this.o.logger.info({ bucket }, 'mount removed from the registry');
      return { ...result, record: undefined };
    });
  }

  private async stopLocked(
    bucket: string,
    options: { force: boolean; keepLinks: boolean },
  ): Promise<UnmountResult> {
    const rec = this.require(bucket);
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

  /** Change options, engine, auto or roots; a running mount is remounted when it must be. */
  async update(bucketRef: string, input: UpdateInput): Promise<MountResult> {
    const bucket = parseBucketRef(bucketRef);
    this.require(bucket);
    return this.lease(bucket, async () => {
      const rec = this.require(bucket);
      const engine = this.engine(input.engine ?? rec.engine);
      const { options, problems } = resolveOptions(input, rec.options);
      problems.push(...engine.problems(rec.source, options));
      if (problems.length > 0) {
        throw new BucketspaceError(
          'INVALID_INPUT',
          `cannot change ${bucket}: ${problems.join('; ')}`,
        );
      }
      let wanted: MountLink[] | undefined;
      if (input.roots !== undefined) {
        const known = new Set(rec.links.map((l) => l.path));
        const fresh = await planLinks({
          roots: input.roots,
          bucket,
          mountPoint: rec.mountPoint,
          ...this.o.config,
        });
        wanted = fresh.map((l) => rec.links.find((k) => k.path === l.path) ?? l);
        for (const l of fresh) known.delete(l.path);
        const dropped = rec.links.filter((l) => known.has(l.path));
        await removeLinks(dropped, rec.mountPoint);
      }
      const remount =
        rec.state !== 'stopped' &&
        (engine.name !== rec.engine || needsRemount(rec.options, options));
      if (remount) await this.stopLocked(bucket, { force: false, keepLinks: true });
      this.o.registry.transaction(() => {
        this.o.registry.updateConfig(bucket, { engine: engine.name, options, auto: input.auto });
        if (wanted) {
          for (const l of rec.links)
            if (!wanted.some((w) => w.path === l.path)) this.o.registry.removeLink(l.path);
          for (const l of wanted) this.o.registry.addLink(bucket, l);
        }
      });
      if (remount || rec.state !== 'stopped') return this.startLocked(bucket);
      return { record: this.require(bucket), problems: [] };
    });
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

  /** Check now and record the result. */
  async status(bucketRef: string): Promise<StatusResult> {
    const bucket = parseBucketRef(bucketRef);
    const rec = this.require(bucket);
    const health = await this.checkHealth(rec);
    this.o.registry.transaction(() =>
      this.o.registry.setStatus(bucket, { healthy: health.healthy, checked: true }),
    );
    return { record: this.require(bucket), health };
  }

  /** Whether the bucket is mounted and answering (whether or not it is registered). */
  async isMounted(bucketRef: string): Promise<boolean> {
    const bucket = parseBucketRef(bucketRef);
    const rec = this.o.registry.get(bucket);
    const mountPoint = rec?.mountPoint ?? this.mountPointFor(bucket);
    if (!(await this.o.host.isMounted(mountPoint))) return false;
    return (await this.o.host.statTimed(mountPoint, this.o.config.healthTimeoutMs)).ok;
  }

  /**
   * The daemon's check of one mount: a healthy mount gets its missing links
   * back; a stale or missing one is recorded as a failure, lazily unmounted
   * and mounted again. Stopped mounts are left alone.
   */
  async heal(bucket: string): Promise<{
    action: 'skipped' | 'healthy' | 'remounted' | 'failed';
    problems: string[];
    error?: string;
  }> {
    return this.lease(bucket, async () => {
      const rec = this.o.registry.get(bucket);
      if (!rec || rec.state === 'stopped') return { action: 'skipped' as const, problems: [] };
      const health = await this.checkHealth(rec);
      if (health.healthy) {
        this.o.registry.transaction(() =>
          this.o.registry.setStatus(bucket, { state: 'running', healthy: true, checked: true }),
        );
        return {
          action: 'healthy' as const,
          problems: await ensureLinks(rec.links, rec.mountPoint),
        };
      }
      const reason = `health check failed: ${health.reason ?? 'unknown'}`;
      this.o.logger.warn({ bucket, reason }, 'mount unhealthy; remounting');
      this.o.registry.transaction(() => {
        this.o.registry.recordFailure(bucket, reason, 'error');
        this.o.registry.setStatus(bucket, { healthy: false, checked: true });
        this.o.registry.recordEvent(
          bucket,
          'remount',
          `remounting after: ${health.reason ?? 'unknown'}`,
        );
      });
      try {
        const engine = this.engine(rec.engine);
        this.o.host.checkCanMount(engine.program, engine.installHint);
        const result = await this.startLocked(bucket);
        return { action: 'remounted' as const, problems: result.problems };
      } catch (err) {
        if (!isBucketspaceError(err, 'MOUNT_FAILED')) {
          this.o.registry.transaction(() =>
            this.o.registry.recordFailure(bucket, errorMessage(err), 'error'),
          );
        }
        return { action: 'failed' as const, problems: [], error: errorMessage(err) };
      }
    });
  }

  /** A link the daemon could not recreate (something else is at its path): a recorded failure. */
  recordLinkProblem(bucket: string, message: string): void {
    this.o.registry.transaction(() => this.o.registry.recordFailure(bucket, message));
  }

  /** Unmount every mount that is up (daemon shutdown): normally, lazily when busy. */
  async stopAll(): Promise<{ bucket: string; error: string }[]> {
    const failures: { bucket: string; error: string }[] = [];
    for (const rec of this.o.registry.list()) {
      if (rec.state === 'stopped' && !(await this.o.host.isMounted(rec.mountPoint))) continue;
      try {
        await this.lease(rec.bucket, async () => {
          try {
            await this.stopLocked(rec.bucket, { force: false, keepLinks: false });
          } catch (err) {
            if (!isBucketspaceError(err, 'MOUNT_BUSY')) throw err;
            await this.stopLocked(rec.bucket, { force: true, keepLinks: false });
          }
        });
      } catch (err) {
        failures.push({ bucket: rec.bucket, error: errorMessage(err) });
      }
    }
    return failures;
  }
}
