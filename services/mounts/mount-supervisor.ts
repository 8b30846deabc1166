import { systemClock, type Clock } from '../common/clock.ts';
import { backoffDelay } from '../common/backoff.ts';
import type { Logger } from '../common/logger.ts';
import type { MountManager } from './mount-manager.ts';

export interface MountSupervisorOptions {
  manager: MountManager;
  intervalMs: number;
  logger: Logger;
  clock?: Clock;
  /** Remount backoff after failed attempts: first wait up to baseMs, doubling to maxMs. */
  backoff?: { baseMs: number; maxMs: number };
}

interface Retry {
  attempts: number;
  notBefore: number;
}

/**
 * What `bucketspace mount daemon` runs (and the monitor may run in-process):
 * mounts the `auto` mounts at start, checks every wanted mount each interval,
 * remounts stale ones (with backoff after failures), recreates missing links,
 * and unmounts everything on stop.
 */
export class MountSupervisor {
  private readonly o: MountSupervisorOptions;
  private readonly clock: Clock;
  private readonly retries = new Map<string, Retry>();
  /** Link problems already reported, so one stuck path is recorded once, not every interval. */
  private readonly reported = new Map<string, string>();
  private timer: unknown;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(options: MountSupervisorOptions) {
    this.o = options;
    this.clock = options.clock ?? systemClock;
  }

  async start(): Promise<void> {
    const { manager, logger } = this.o;
    logger.info({ intervalMs: this.o.intervalMs }, 'starting mount supervisor');
    for (const rec of manager.list()) {
      if (!rec.auto) continue;
      try {
        const { problems } = await manager.start(rec.bucket);
        for (const p of problems) logger.warn({ bucket: rec.bucket, problem: p }, 'link not made');
      } catch (err) {
        logger.error({ bucket: rec.bucket, err }, 'auto-mount failed; will retry');
        this.scheduleRetry(rec.bucket);
      }
    }
    this.schedule();
    logger.info({ mounts: manager.list().length }, 'started mount supervisor');
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, this.o.intervalMs);
  }

  private scheduleRetry(bucket: string): void {
    const prev = this.retries.get(bucket)?.attempts ?? 0;
    const backoff = this.o.backoff ?? { baseMs: 1000, maxMs: 5 * 60_000 };
    this.retries.set(bucket, {
      attempts: prev + 1,
      notBefore: this.clock.now() + backoffDelay(prev, backoff),
    });
  }

  /** One pass over every mount; exposed for tests and for a manual "check now". */
  async tick(): Promise<void> {
    const { manager, logger } = this.o;
    for (const rec of manager.list()) {
      if (this.stopped) return;
      if (rec.state === 'stopped') {
        this.retries.delete(rec.bucket);
        continue;
      }
      const retry = this.retries.get(rec.bucket);
      if (retry && this.clock.now() < retry.notBefore) continue;
      try {
        const result = await manager.heal(rec.bucket);
        if (result.action === 'failed') {
          logger.error({ bucket: rec.bucket, error: result.error }, 'remount failed; backing off');
          this.scheduleRetry(rec.bucket);
        } else {
          if (result.action === 'remounted') logger.info({ bucket: rec.bucket }, 'remounted');
          this.retries.delete(rec.bucket);
          this.reportLinks(rec.bucket, result.problems);
        }
      } catch (err) {
        logger.error({ bucket: rec.bucket, err }, 'health check failed');
        this.scheduleRetry(rec.bucket);
      }
    }
  }

  private reportLinks(bucket: string, problems: string[]): void {
    const text = problems.join('\n');
    if (text === (this.reported.get(bucket) ?? '')) return;
    this.reported.set(bucket, text);
    for (const p of problems) {
      this.o.logger.warn({ bucket, problem: p }, 'link not recreated');
      this.o.manager.recordLinkProblem(bucket, p);
    }
  }

  /** Stop checking, wait for a check in progress, then unmount everything. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    await this.running;
    this.o.logger.info('unmounting every mount');
    const failures = await this.o.manager.stopAll();
    for (const f of failures)
      this.o.logger.error({ bucket: f.bucket, error: f.error }, 'unmount failed');
    this.o.logger.info({ failures: failures.length }, 'stopped mount supervisor');
  }
}
