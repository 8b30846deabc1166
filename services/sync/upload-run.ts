import type { Logger } from '../common/logger.ts';
import { splitKey } from './object-keys.ts';
import { uploadFile } from './operations/upload.ts';
import { addFailure, addSkip } from './report.ts';
import type { SyncContext } from './sync-context.ts';
import { TransferQueue } from './transfer-queue.ts';
import type { PlannedUpload, ProgressSink, SyncSummary } from './types.ts';

/**
 * The uploads of one push: a transfer queue that takes each workspace's
 * uploads as soon as it is planned, with a progress bar whose totals are
 * known only once every workspace is planned (ticks before then are held).
 */
export class UploadRun {
  readonly #ctx: SyncContext;
  readonly #summary: SyncSummary;
  readonly #queue: TransferQueue<PlannedUpload>;
  readonly #etags = new Map<string, string>();
  readonly #bar: Pick<ProgressSink, 'start' | 'tick'>;

  constructor(ctx: SyncContext, summary: SyncSummary, log: Logger) {
    this.#ctx = ctx;
    this.#summary = summary;
    const bar = (this.#bar = heldProgress(ctx.progress));
    this.#queue = new TransferQueue<PlannedUpload>({
      concurrency: ctx.concurrency,
      signal: ctx.signal,
      run: async (u) => {
        let reported = 0;
        try {
          const etag = await uploadFile(ctx, u.file, u.key, (b) => {
            reported += b;
            bar.tick(0, b);
          });
          this.#etags.set(u.key, etag);
          summary.bytes += u.file.size;
          bar.tick(1, Math.max(0, u.file.size - reported));
          log.debug({ key: u.key, reason: u.reason, bytes: u.file.size }, 'uploaded');
        } catch (err) {
          bar.tick(1, 0);
          throw err;
        }
      },
    });
  }

  add(uploads: readonly PlannedUpload[]): void {
    this.#queue.add(uploads);
  }

  /**
   * Waits for the last upload (with every upload of the run, for the bar's
   * totals); outcomes go into the summary. Returns the ETag of each uploaded key.
   */
  async finish(all: readonly PlannedUpload[] = []): Promise<Map<string, string>> {
    this.#bar.start(
      'upload',
      all.length,
      all.reduce((n, u) => n + u.file.size, 0),
    );
    const outcome = await this.#queue.finish();
    this.#ctx.progress.stop();
    this.#summary.uploaded = outcome.ok.length;
    for (const f of outcome.failed) {
      const { workspace } = splitKey(f.item.key);
      if (f.error.code === 'LOCAL_NOT_FOUND') {
        addSkip(this.#summary, {
          workspace,
          path: f.item.file.relPath,
          reason: 'vanished',
          message: 'deleted before it could be uploaded',
        });
      } else {
        addFailure(this.#summary, {
          workspace,
          path: f.item.file.relPath,
          code: f.error.code,
          message: f.error.message,
        });
      }
    }
    return this.#etags;
  }
}

/** A progress sink that holds ticks until `start`, then passes them on. */
function heldProgress(sink: ProgressSink): Pick<ProgressSink, 'start' | 'tick'> {
  let started = false;
  let files = 0;
  let bytes = 0;
  return {
    start(label, totalFiles, totalBytes) {
      sink.start(label, totalFiles, totalBytes);
      started = true;
      if (files > 0 || bytes > 0) sink.tick(files, bytes);
    },
    tick(f, b) {
      if (started) sink.tick(f, b);
      else {
        files += f;
        bytes += b;
      }
    },
  };
}
