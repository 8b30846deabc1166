import { join } from 'node:path';
import { BucketspaceError, errorMessage, isBucketspaceError } from '../common/errors.ts';
import { parseBucketRef } from './bucket-ref.ts';
import {
  MountLifecycle,
  type MountConfig,
  type MountManagerOptions,
  type MountResult,
  type UnmountResult,
} from './mount-lifecycle.ts';
import { ensureLinks, planLinks, removeLinks } from './mount-links.ts';
import {
  DEFAULT_OPTIONS,
  needsRemount,
  optionConflicts,
  resolveOptions,
  type MountOptionsInput,
} from './mount-options.ts';
import { checkedLinks, mountPointProblem } from './record-check.ts';
import type { EngineName, HealthResult, MountLink, MountRecord, MountSource } from './types.ts';

export type {
  MountConfig,
  MountManagerOptions,
  MountResult,
  S3Connection,
  UnmountResult,
} from './mount-lifecycle.ts';

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
  private readonly life: MountLifecycle;
  private readonly o: MountManagerOptions;

  constructor(options: MountManagerOptions) {
    this.life = new MountLifecycle(options);
    this.o = options;
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
    const engine = this.life.engine(input.engine ?? before?.engine ?? this.o.config.defaultEngine);
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
    return this.life.lease(bucket, async () => {
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
            ownerUid: this.o.config.uid,
          });
        } else if (input.auto === true && !existing.auto) {
          this.o.registry.updateConfig(bucket, { auto: true });
        }
        for (const link of links) this.o.registry.addLink(bucket, link);
      });
      if (input.start === false) return { record: this.life.require(bucket), problems: [] };
      return this.life.start(bucket);
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
    const rec = this.life.require(bucket);
    const engine = this.life.engine(rec.engine);
    this.o.host.checkCanMount(engine.program, engine.installHint);
    return this.life.lease(bucket, () => this.life.start(bucket));
  }

  /** Unmount and remove the links (the mount stays recorded; `start` brings both back). */
  async stop(bucketRef: string, options: { force?: boolean } = {}): Promise<UnmountResult> {
    const bucket = parseBucketRef(bucketRef);
    this.life.require(bucket);
    return this.life.lease(bucket, () =>
      this.life.stop(bucket, { force: options.force === true, keepLinks: false }),
    );
  }

  /** Unmount, remove the links, and forget the mount. */
  async remove(bucketRef: string, options: { force?: boolean } = {}): Promise<UnmountResult> {
    const bucket = parseBucketRef(bucketRef);
    this.life.require(bucket);
    return this.life.lease(bucket, async () => {
      const rec = this.life.require(bucket);
      // A record whose mount point is not ours to touch is only forgotten.
      const untrusted = mountPointProblem(rec, this.life.trust);
      const result =
        untrusted === undefined
          ? await this.life.stop(bucket, { force: options.force === true, keepLinks: false })
          : {
              record: rec,
              removedLinks: [],
              leftAlone: [`nothing unmounted or unlinked for ${bucket}: ${untrusted}`],
            };
      this.o.registry.transaction(() => this.o.registry.delete(bucket));
      this.o.logger.info({ bucket }, 'mount removed from the registry');
      return { ...result, record: undefined };
    });
  }

  /** Change options, engine, auto or roots; a running mount is remounted when it must be. */
  async update(bucketRef: string, input: UpdateInput): Promise<MountResult> {
    const bucket = parseBucketRef(bucketRef);
    this.life.require(bucket);
    return this.life.lease(bucket, async () => {
      const rec = this.life.require(bucket);
      const engine = this.life.engine(input.engine ?? rec.engine);
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
      if (remount) await this.life.stop(bucket, { force: false, keepLinks: true });
      this.o.registry.transaction(() => {
        this.o.registry.updateConfig(bucket, { engine: engine.name, options, auto: input.auto });
        if (wanted) {
          for (const l of rec.links)
            if (!wanted.some((w) => w.path === l.path)) this.o.registry.removeLink(l.path);
          for (const l of wanted) this.o.registry.addLink(bucket, l);
        }
      });
      if (remount || rec.state !== 'stopped') return this.life.start(bucket);
      return { record: this.life.require(bucket), problems: [] };
    });
  }

  /** Check now and record the result. */
  async status(bucketRef: string): Promise<StatusResult> {
    const bucket = parseBucketRef(bucketRef);
    const rec = this.life.require(bucket);
    const health = await this.life.checkHealth(rec);
    this.o.registry.transaction(() =>
      this.o.registry.setStatus(bucket, { healthy: health.healthy, checked: true }),
    );
    return { record: this.life.require(bucket), health };
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
    return this.life.lease(bucket, async () => {
      const rec = this.o.registry.get(bucket);
      if (!rec || rec.state === 'stopped') return { action: 'skipped' as const, problems: [] };
      const health = await this.life.checkHealth(rec);
      if (health.healthy) {
        this.o.registry.transaction(() =>
          this.o.registry.setStatus(bucket, { state: 'running', healthy: true, checked: true }),
        );
        const { links, problems } = checkedLinks(rec, this.life.trust);
        problems.push(...(await ensureLinks(links, rec.mountPoint)));
        return { action: 'healthy' as const, problems };
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
        const engine = this.life.engine(rec.engine);
        this.o.host.checkCanMount(engine.program, engine.installHint);
      } catch (err) {
        this.o.registry.transaction(() =>
          this.o.registry.recordFailure(bucket, errorMessage(err), 'error'),
        );
        return { action: 'failed' as const, problems: [], error: errorMessage(err) };
      }
      try {
        const result = await this.life.start(bucket);
        return { action: 'remounted' as const, problems: result.problems };
      } catch (err) {
        // Recorded by the lifecycle.
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
        await this.life.lease(rec.bucket, async () => {
          try {
            await this.life.stop(rec.bucket, { force: false, keepLinks: false });
          } catch (err) {
            if (!isBucketspaceError(err, 'MOUNT_BUSY')) throw err;
            await this.life.stop(rec.bucket, { force: true, keepLinks: false });
          }
        });
      } catch (err) {
        failures.push({ bucket: rec.bucket, error: errorMessage(err) });
      }
    }
    return failures;
  }
}
