import { runTransfers } from '../sync/transfer-queue.ts';
import type { ProgressSink } from '../sync/types.ts';
import type { MirrorContext } from './mirror-context.ts';
import { addFailure, addSkip } from './mirror-report.ts';
import type { MirrorEvent, MirrorReport } from './types.ts';

/** The part of every event of one run. */
export type EventBase = Pick<
  Extract<MirrorEvent, { type: 'start' }>,
  'operation' | 'remote' | 'local' | 'background'
>;

export function eventBase(report: MirrorReport): EventBase {
  return {
    operation: report.operation,
    remote: report.remote,
    local: report.local,
    background: report.background,
  };
}

/** One file to move: where it is on both sides, and how big. */
export interface TransferItem {
  relPath: string;
  /** The object's URL. */
  object: string;
  /** The local file. */
  path: string;
  size: number;
}

export interface TransferRun {
  ctx: MirrorContext;
  report: MirrorReport;
  progress: ProgressSink;
  signal: AbortSignal | undefined;
}

/**
 * Runs the transfers of one run with at most `maxWorkers` at once (the
 * mirror's slots, shared by every run), with the progress bar, the start and
 * file events, and every outcome in the report. A file that vanished before
 * it could be uploaded is a skip; any other failure is named with its code.
 * `move` transfers one file and reports bytes as they go.
 */
export async function transferAll<T extends TransferItem>(
  run: TransferRun,
  label: string,
  items: readonly T[],
  move: (item: T, onBytes: (bytes: number) => void) => Promise<void>,
): Promise<void> {
  const { ctx, report, progress } = run;
  const base = eventBase(report);
  const bytes = items.reduce((n, i) => n + i.size, 0);
  ctx.emit({ ...base, type: 'start', files: items.length, bytes });
  if (items.length === 0) return;
  progress.start(label, items.length, bytes);
  try {
    const outcome = await runTransfers({
      items,
      concurrency: ctx.settings.maxWorkers,
      signal: run.signal,
      run: async (item) => {
        let reported = 0;
        try {
          await ctx.slots(() =>
            move(item, (b) => {
              reported += b;
              progress.tick(0, b);
            }),
          );
        } catch (err) {
          progress.tick(1, 0);
          throw err;
        }
        progress.tick(1, Math.max(0, item.size - reported));
        report.transferred += 1;
        report.bytes += item.size;
        ctx.emit({
          ...base,
          type: 'file',
          action: 'transferred',
          object: item.object,
          path: item.path,
          bytes: item.size,
        });
      },
    });
    for (const { item, error } of outcome.failed) {
      if (error.code === 'LOCAL_NOT_FOUND' && report.operation === 'upload')
        addSkip(report, item.relPath, 'vanished', 'deleted before it could be uploaded');
      else addFailure(report, item.relPath, error.code, error.message);
    }
  } finally {
    progress.stop();
  }
}

/** Same-size files are hashed this many at a time. */
export function hashConcurrency(ctx: MirrorContext): number {
  return Math.max(2, Math.min(ctx.settings.maxWorkers, 8));
}
