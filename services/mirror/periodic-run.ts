import type { Clock } from '../common/clock.ts';

export interface PeriodicRunOptions {
  clock: Clock;
  /** Between the end of one run and the start of the next; undefined: never on its own. */
  intervalMs: number | undefined;
  /** One run; a background run reports its own failures (a rejection is dropped). */
  run: () => Promise<void>;
}

/**
 * Runs `run` every `intervalMs` on the clock, one run at a time: the next
 * run is due `intervalMs` after the last one ended, so a slow run delays the
 * next and two never overlap. `stop()` cancels the next run and waits for
 * the one in flight; `runOnce()` runs at once, after any run in flight (the
 * last upload on close).
 */
export class PeriodicRun {
  readonly #options: PeriodicRunOptions;
  #timer: unknown;
  #stopped = false;
  /** The run in flight, or a settled promise. */
  #current: Promise<void> = Promise.resolve();

  constructor(options: PeriodicRunOptions) {
    this.#options = options;
  }

  start(): void {
    this.#schedule();
  }

  /** Runs now, never beside another run: after the one in flight, if any. */
  runOnce(): Promise<void> {
    const next = this.#current.then(() => this.#options.run());
    this.#current = next.catch(() => undefined);
    return next;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#current;
  }

  #schedule(): void {
    const { clock, intervalMs } = this.#options;
    if (this.#stopped || intervalMs === undefined) return;
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#stopped) return;
      void this.runOnce()
        .catch(() => undefined)
        .finally(() => this.#schedule());
    }, intervalMs);
  }
}
