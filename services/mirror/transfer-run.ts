import { sameState } from '../sync/operations/state.ts';
import type { SyncState } from '../sync/sync-state.ts';
import { runTransfers } from '../sync/transfer-queue.ts';
import type { ProgressSink, Refusal, StateEntry } from '../sync/types.ts';
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

/** The rails' verdict in the report; each rail `force` overrode is logged. */
export function applyVerdict(
  ctx: MirrorContext,
  report: MirrorReport,
  verdict: { refusals: Refusal[]; overridden: Refusal[] },
): void {
  report.refusals = verdict.refusals;
  report.overridden = verdict.overridden;
  for (const r of verdict.overridden)
    ctx.logger.warn(
      { remote: report.remote, rule: r.rule },
      `force overrides a rail: ${r.message}`,
    );
}

/** One file deleted (a local file or an object): counted and told. */
export function deletedFile(
  ctx: MirrorContext,
  report: MirrorReport,
  where: { object: string; path: string },
): void {
  report.deleted += 1;
  ctx.emit({ ...eventBase(report), type: 'file', action: 'deleted', ...where, bytes: 0 });
}

/** The end of a run: what it leaves remembered (saved when it changed), and its time. */
export async function endRun(
  report: MirrorReport,
  started: number,
  state: { sync: SyncState; key: string; before: ReadonlyMap<string, StateEntry> },
  after: ReadonlyMap<string, StateEntry>,
): Promise<MirrorReport> {
  if (!sameState(state.before, after)) await state.sync.save(state.key, after);
  report.seconds = (performance.now() - started) / 1000;
  return report;
}
