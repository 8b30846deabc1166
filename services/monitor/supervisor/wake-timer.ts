import type { Clock } from '../../common/clock.ts';

/**
 * One timer for the supervisor's next pass, where the earliest request wins:
 * asking for a pass in 30 s (the poll) while one is due in 1 s (a debounce
 * ending, a finished task) keeps the 1 s one. Replacing it instead made a
 * change found by a poll, or announced by the sync while a task ended, wait a
 * whole poll interval more before its deploy.
 */
export class WakeTimer {
  readonly #clock: Clock;
  readonly #fire: () => void;
  #handle: unknown;
  #dueAt: number | undefined;

  constructor(clock: Clock, fire: () => void) {
    this.#clock = clock;
    this.#fire = fire;
  }

  /** Fire in `delayMs`, unless already due sooner. */
  at(delayMs: number): void {
    const dueAt = this.#clock.now() + Math.max(0, delayMs);
    if (this.#dueAt !== undefined && this.#dueAt <= dueAt) return;
    this.cancel();
    this.#dueAt = dueAt;
    this.#handle = this.#clock.setTimeout(() => {
      this.#handle = undefined;
      this.#dueAt = undefined;
      this.#fire();
    }, delayMs);
  }

  /** When the next firing is due (clock time), if any. */
  get dueAt(): number | undefined {
    return this.#dueAt;
  }

  cancel(): void {
    if (this.#handle !== undefined) this.#clock.clearTimeout(this.#handle);
    this.#handle = undefined;
    this.#dueAt = undefined;
  }
}
