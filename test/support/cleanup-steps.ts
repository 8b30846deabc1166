/**
 * Cleanup that runs every step even when some fail, then reports them all at
 * once: a failed step must not leave the later ones (and what they remove)
 * behind.
 */
export class CleanupSteps {
  readonly problems: string[] = [];

  /** Run one step; a failure is recorded, not thrown. */
  async attempt(what: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.problems.push(`${what}: ${(err as Error).message}`);
    }
  }

  /** Throw one error naming every step that failed, if any did. */
  throwIfAny(prefix: string): void {
    if (this.problems.length > 0) throw new Error(`${prefix}: ${this.problems.join('; ')}`);
  }
}
