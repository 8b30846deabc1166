/**
 * Exponential backoff with full jitter: attempt 0 waits up to `baseMs`, each
 * further attempt doubles the ceiling, capped at `maxMs`. `random` is
 * injectable for tests.
 */
export function backoffDelay(
  attempt: number,
  options: { baseMs: number; maxMs: number; random?: () => number },
): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt));
  const r = (options.random ?? Math.random)();
  return Math.round(ceiling / 2 + (ceiling / 2) * r);
}
