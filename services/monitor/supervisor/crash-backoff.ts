/** Delay before restarting a workspace after its `failures`-th consecutive crash. */
export function crashBackoffMs(failures: number, baseMs = 2_000, maxMs = 300_000): number {
  if (failures <= 0) return 0;
  return Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 20));
}
