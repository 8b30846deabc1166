import { asBucketspaceError, BucketspaceError } from '../common/errors.ts';

export interface TransferOutcome<T> {
  ok: T[];
  failed: { item: T; error: BucketspaceError }[];
}

export interface TransferQueueOptions<T> {
  concurrency: number;
  signal?: AbortSignal;
  run: (item: T) => Promise<void>;
}

/** The items of one `add`, and the outcome they are waiting for. */
interface Batch<T> {
  left: number;
  outcome: TransferOutcome<T>;
  resolve: (outcome: TransferOutcome<T>) => void;
}

/**
 * Runs transfers with bounded concurrency, in the order added; items may be
 * added while earlier ones run (a sync starts uploading one workspace while
 * it still walks the next). Each `add` resolves with the outcome of its own
 * items, and the queue lets go of every item once it is done, so a long run
 * holds only what is waiting or running. A failure of one never stops the
 * others; but once the server is unreachable (after the retries of the S3
 * client), the transfers not yet started fail at once with that error
 * instead of each waiting through its own retries.
 */
export class TransferQueue<T> {
  private readonly options: TransferQueueOptions<T>;
  private waiting: { item: T; batch: Batch<T> }[] = [];
  private next = 0;
  private running = 0;
  private closed = false;
  private unreachable: BucketspaceError | undefined;
  private resolveDone: (() => void) | undefined;
  private readonly done: Promise<void>;

  constructor(options: TransferQueueOptions<T>) {
    this.options = options;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** Queues these items; resolves with their outcomes once the last of them has ended. */
  add(items: readonly T[]): Promise<TransferOutcome<T>> {
    if (this.closed) throw new Error('TransferQueue: add after finish');
    let resolve: (outcome: TransferOutcome<T>) => void = () => undefined;
    const settled = new Promise<TransferOutcome<T>>((r) => (resolve = r));
    const batch: Batch<T> = { left: items.length, outcome: { ok: [], failed: [] }, resolve };
    if (items.length === 0) resolve(batch.outcome);
    for (const item of items) this.waiting.push({ item, batch });
    this.pump();
    return settled;
  }

  /** No more items: resolves once the last transfer ends. */
  async finish(): Promise<void> {
    this.closed = true;
    this.settleIfIdle();
    await this.done;
  }

  private pump(): void {
    while (
      this.running < Math.max(1, this.options.concurrency) &&
      this.next < this.waiting.length
    ) {
      const entry = this.waiting[this.next] as { item: T; batch: Batch<T> };
      this.next += 1;
      this.running += 1;
      void this.start(entry.item, entry.batch.outcome).finally(() => {
        entry.batch.left -= 1;
        if (entry.batch.left === 0) entry.batch.resolve(entry.batch.outcome);
        this.running -= 1;
        this.pump();
        this.settleIfIdle();
      });
    }
    // Let go of the items already started.
    if (this.next > 1024 && this.next * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.next);
      this.next = 0;
    }
  }

  private settleIfIdle(): void {
    if (this.closed && this.running === 0 && this.next === this.waiting.length)
      this.resolveDone?.();
  }

  private async start(item: T, outcome: TransferOutcome<T>): Promise<void> {
    if (this.options.signal?.aborted) {
      outcome.failed.push({
        item,
        error: new BucketspaceError('ABORTED', 'not started: stopping'),
      });
      return;
    }
    if (this.unreachable) {
      outcome.failed.push({
        item,
        error: new BucketspaceError(
          this.unreachable.code,
          `not attempted: ${this.unreachable.message}`,
          { retryable: true },
        ),
      });
      return;
    }
    try {
      await this.options.run(item);
      outcome.ok.push(item);
    } catch (err) {
      const error = asBucketspaceError(err);
      if (error.code === 'S3_UNREACHABLE' || error.code === 'S3_AUTH') this.unreachable ??= error;
      outcome.failed.push({ item, error });
    }
  }
}

/** All items known up front: add them, then wait for the outcome. */
export async function runTransfers<T>(
  options: TransferQueueOptions<T> & { items: readonly T[] },
): Promise<TransferOutcome<T>> {
  const queue = new TransferQueue<T>(options);
  const outcome = queue.add(options.items);
  await queue.finish();
  return outcome;
}
