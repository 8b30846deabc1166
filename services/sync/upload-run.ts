import type { Logger } from '../common/logger.ts';
import { splitKey } from './object-keys.ts';
import { uploadFile } from './operations/upload.ts';
import { addFailure, addSkip } from './report.ts';
import type { SyncContext } from './sync-context.ts';
import { TransferQueue } from './transfer-queue.ts';
import type { PlannedUpload, SyncSummary } from './types.ts';

/** One upload in the queue, and the ETag it got. */
interface Upload {
  planned: PlannedUpload;
  etag?: string;
}

/**
 * The uploads of one push: one transfer queue that takes each workspace's
 * uploads as soon as it is planned, and tells that workspace when its own
 * uploads are done (so it can be remembered and let go of). The progress bar
 * starts at once and grows as workspaces are planned.
 */
export class UploadRun {
  readonly #ctx: SyncContext;
  readonly #summary: SyncSummary;
  readonly #queue: TransferQueue<Upload>;

  constructor(ctx: SyncContext, summary: SyncSummary, log: Logger) {
    this.#ctx = ctx;
    this.#summary = summary;
    const bar = ctx.progress;
    bar.start('upload', 0, 0);
    this.#queue = new TransferQueue<Upload>({
      concurrency: ctx.concurrency,
      signal: ctx.signal,
      run: async (upload) => {
        const u = upload.planned;
        let reported = 0;
        try {
          const etag = await uploadFile(ctx, u.file, u.key, (b) => {
            reported += b;
            bar.tick(0, b);
          });
          upload.etag = etag;
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

  /**
   * Uploads one workspace's files; resolves once the last of them has ended,
   * with the ETag of each file uploaded (by relPath). Outcomes go into the summary.
   */
  async add(uploads: readonly PlannedUpload[]): Promise<Map<string, string>> {
    this.#ctx.progress.grow(
      uploads.length,
      uploads.reduce((n, u) => n + u.file.size, 0),
    );
    const outcome = await this.#queue.add(uploads.map((planned) => ({ planned })));
    const etags = new Map<string, string>();
    for (const u of outcome.ok) if (u.etag !== undefined) etags.set(u.planned.file.relPath, u.etag);
    this.#summary.uploaded += outcome.ok.length;
    for (const f of outcome.failed) {
      const { key, file } = f.item.planned;
      const { workspace } = splitKey(key);
      if (f.error.code === 'LOCAL_NOT_FOUND') {
        addSkip(this.#summary, {
          workspace,
          path: file.relPath,
          reason: 'vanished',
          message: 'deleted before it could be uploaded',
        });
      } else {
        addFailure(this.#summary, {
          workspace,
          path: file.relPath,
          code: f.error.code,
          message: f.error.message,
        });
      }
    }
    return etags;
  }

  /** Waits for the last upload of the run and stops the progress bar. */
  async finish(): Promise<void> {
    await this.#queue.finish();
    this.#ctx.progress.stop();
  }
}
