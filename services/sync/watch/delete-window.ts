/**
 * The deletions of the last `windowMs` in one workspace. Watch mode counts
 * them together with each new batch's (the max-delete rail): files that
 * vanish one by one (a slow `rm`, a tool emptying a tree file by file) are
 * still a mass deletion. Pure: time comes from the caller.
 */
export class DeleteWindow {
  readonly windowMs: number;
  #entries: { at: number; count: number }[] = [];

  constructor(windowMs: number) {
    this.windowMs = windowMs;
  }

  record(at: number, count: number): void {
    if (count > 0) this.#entries.push({ at, count });
  }

  /** Deletions made in the window ending at `now`. */
  recent(now: number): number {
    const since = now - this.windowMs;
    this.#entries = this.#entries.filter((d) => d.at >= since);
    return this.#entries.reduce((sum, d) => sum + d.count, 0);
  }
}
