import { BucketspaceError, errorMessage, isBucketspaceError } from '../common/errors.ts';

export interface TransferOutcome<T> {
  ok: T[];
  failed: { item: T; error: BucketspaceError }[];
}

export interface TransferQueueOptions<T> {
  concurrency: number;
  signal?: AbortSignal;
  run: (item: T) => Promise<void>;
  /**
   * Higher starts first among the items waiting (e.g. the size: the largest
   * file runs alongside the small ones instead of alone at the end); equal
   * priorities start in the order they were added. Default: the order added.
   */
  priority?: (item: T) => number;
}

interface Waiting<T> {
  item: T;
  priority: number;
  seq: number;
}

/**
 * Runs transfers with bounded concurrency; items may be added while earlier
 * ones run (a sync starts uploading one workspace while it still walks the
 * next). A failure of one never stops the others; but once the server is
 * unreachable (after the retries of the S3 client), the transfers not yet
 * started fail at once with that error instead of each waiting through its
 * own retries.
 */
export class TransferQueue<T> {
  private readonly options: TransferQueueOptions<T>;
  private readonly heap: Waiting<T>[] = [];
  private readonly outcome: TransferOutcome<T> = { ok: [], failed: [] };
  private running = 0;
  private seq = 0;
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
    for (const item of items) {
      this.push({ item, priority: this.options.priority?.(item) ?? 0, seq: this.seq++ });
    }
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
    while (this.running < Math.max(1, this.options.concurrency) && this.heap.length > 0) {
      const next = this.pop();
      this.running += 1;
      void this.start(next.item).finally(() => {
        this.running -= 1;
        this.pump();
        this.settleIfIdle();
      });
    }
  }

  private settleIfIdle(): void {
    if (this.closed && this.running === 0 && this.heap.length === 0) this.resolveDone?.();
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
      const error = isBucketspaceError(err)
        ? err
        : new BucketspaceError('INTERNAL', errorMessage(err), { cause: err });
      if (error.code === 'S3_UNREACHABLE' || error.code === 'S3_AUTH') this.unreachable ??= error;
      this.outcome.failed.push({ item, error });
    }
  }

  // A binary heap: highest priority first, then lowest sequence number.
  private before(a: Waiting<T>, b: Waiting<T>): boolean {
    return a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq);
  }

  private push(w: Waiting<T>): void {
    const h = this.heap;
    h.push(w);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(h[i] as Waiting<T>, h[parent] as Waiting<T>)) break;
      [h[i], h[parent]] = [h[parent] as Waiting<T>, h[i] as Waiting<T>];
      i = parent;
    }
  }

  private pop(): Waiting<T> {
    const h = this.heap;
    const top = h[0] as Waiting<T>;
    const last = h.pop() as Waiting<T>;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < h.length && this.before(h[l] as Waiting<T>, h[best] as Waiting<T>)) best = l;
        if (r < h.length && this.before(h[r] as Waiting<T>, h[best] as Waiting<T>)) best = r;
        if (best === i) break;
        [h[i], h[best]] = [h[best] as Waiting<T>, h[i] as Waiting<T>];
        i = best;
      }
    }
    return top;
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
