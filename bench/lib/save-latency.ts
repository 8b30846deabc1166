import type { S3Client } from '@aws-sdk/client-s3';
import { fmtMs, formatTable } from './format.ts';
import { sleep } from './process-cleanup.ts';
import { performSave, SAVE_KINDS, type Save, type SaveKind } from './saves.ts';
import { maxOf, percentile } from './stats.ts';
import { waitVisible } from './visibility.ts';
import type { WatchTree } from './watch-tree.ts';

/** How often HeadObject is polled while waiting for a save to become visible. */
export const POLL_MS = 20;
/** A save not visible after this long counts as a timeout. */
export const VISIBLE_TIMEOUT_MS = 20_000;

export interface SaveResult {
  kind: SaveKind;
  /** Undefined: not visible within VISIBLE_TIMEOUT_MS. */
  ms: number | undefined;
}

/** Each save, then wait until its content is visible in the bucket (while `afterWrite` runs, if given). */
export async function measureSaves(options: {
  label: string;
  saves: readonly Save[];
  tree: WatchTree;
  client: S3Client;
  bucket: string;
  intervalMs: number;
  out: NodeJS.WriteStream;
  afterWrite?: (save: Save) => Promise<void>;
}): Promise<SaveResult[]> {
  const results: SaveResult[] = [];
  for (const [i, save] of options.saves.entries()) {
    const startedAt = performance.now();
    await performSave(options.tree.workspacesDir, save);
    const [ms] = await Promise.all([
      waitVisible({
        client: options.client,
        bucket: options.bucket,
        key: save.key,
        md5: save.md5,
        startedAt,
        pollMs: POLL_MS,
        timeoutMs: VISIBLE_TIMEOUT_MS,
      }),
      options.afterWrite?.(save),
    ]);
    results.push({ kind: save.kind, ms });
    const line = `${options.label}: save ${i + 1}/${options.saves.length} (${save.kind}) visible after ${ms === undefined ? 'TIMEOUT' : `${Math.round(ms)} ms`}`;
    options.out.write(
      options.out.isTTY ? `\r${line.padEnd(100)}` : (i + 1) % 10 === 0 ? `${line}\n` : '',
    );
    const wait = options.intervalMs - (performance.now() - startedAt);
    if (wait > 0) await sleep(wait);
  }
  if (options.out.isTTY) options.out.write('\n');
  return results;
}

export interface LatencyStats {
  count: number;
  p50: number;
  p95: number;
  max: number;
  timeouts: number;
}

export function latencyStats(results: readonly SaveResult[]): LatencyStats {
  // A save that never became visible counts as infinitely slow, so it cannot hide in the percentiles.
  const values = results.map((r) => r.ms ?? Number.POSITIVE_INFINITY);
  return {
    count: results.length,
    p50: percentile(values, 50),
    p95: percentile(values, 95),
    max: maxOf(values),
    timeouts: results.filter((r) => r.ms === undefined).length,
  };
}

export function latencyRow(label: string, s: LatencyStats): string[] {
  return [label, String(s.count), fmtMs(s.p50), fmtMs(s.p95), fmtMs(s.max), String(s.timeouts)];
}

export function kindTable(
  ours: readonly SaveResult[],
  rclone: readonly SaveResult[] | undefined,
): string {
  const header = [
    'save kind',
    'bucketspace p50',
    'p95',
    'max',
    ...(rclone ? ['rclone copyto p50', 'p95', 'max'] : []),
  ];
  const rows = SAVE_KINDS.map((kind) => {
    const o = latencyStats(ours.filter((r) => r.kind === kind));
    const r = rclone ? latencyStats(rclone.filter((x) => x.kind === kind)) : undefined;
    return [
      kind,
      fmtMs(o.p50),
      fmtMs(o.p95),
      fmtMs(o.max),
      ...(r ? [fmtMs(r.p50), fmtMs(r.p95), fmtMs(r.max)] : []),
    ];
  });
  return formatTable([header, ...rows]);
}
