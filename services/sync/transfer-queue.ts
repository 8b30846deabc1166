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

/**
 * Runs transfers with bounded concurrency, in the order added; items may be
 * added while earlier ones run (a sync starts uploading one workspace while
 * it still walks the next). A failure of one never stops the others; but once the server is
 * unreachable (after the retries of the S3 client), the transfers not yet
 * started fail at once with that error instead of each waiting through its
 * own retries.
 */
export class TransferQueue<T> {
  private readonly options: TransferQueueOptions<T>;
  private readonly waiting: T[] = [];
  private next = 0;
  private readonly outcome: TransferOutcome<T> = { ok: [], failed: [] };
  private running = 0;
  private closed = false;
  private unreachable: BucketspaceError | undefined;
  private resolveDone: (() => void) | undefined;
  private readonly done: Promise<void>;

  constructor(options: TransferQueueOptions<T>) {
    this.options = options;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  add(items: readonly T[]): void {
    if (this.closed) throw new Error('TransferQueue: add after finish');
    this.waiting.push(...items);
    this.pump();
  }

  /** No more items: resolves with every outcome once the last transfer ends. */
  async finish(): Promise<TransferOutcome<T>> {
    this.closed = true;
    this.settleIfIdle();
    await this.done;
    return this.outcome;
  }

  private pump(): void {
    while (
      this.running < Math.max(1, this.options.concurrency) &&
      this.next < this.waiting.length
    ) {
      const item = this.waiting[this.next] as T;
      this.next += 1;
      this.running += 1;
      void this.start(item).finally(() => {
        this.running -= 1;
        this.pump();
        this.settleIfIdle();
      });
    }
  }

  private settleIfIdle(): void {
    if (this.closed && this.running === 0 && this.next === this.waiting.length)
      this.resolveDone?.();
  }

  private async start(item: T): Promise<void> {
    if (this.options.signal?.aborted) {
      this.outcome.failed.push({
        item,
        error: new BucketspaceError('ABORTED', 'not started: stopping'),
      });
      return;
    }
    if (this.unreachable) {
      this.outcome.failed.push({
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
      this.outcome.ok.push(item);
    } catch (err) {
      const error = asBucketspaceError(err);
      if (error.code === 'S3_UNREACHABLE' || error.code === 'S3_AUTH') this.unreachable ??= error;
      this.outcome.failed.push({ item, error });
    }
  }
}

/** All items known up front: add them, then wait for the outcome. */
export function runTransfers<T>(
  options: TransferQueueOptions<T> & { items: readonly T[] },
): Promise<TransferOutcome<T>> {
  const queue = new TransferQueue<T>(options);
  queue.add(options.items);
  return queue.finish();
}
