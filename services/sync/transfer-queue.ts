import pLimit from 'p-limit';
import { BucketspaceError, errorMessage, isBucketspaceError } from '../common/errors.ts';

export interface TransferOutcome<T> {
  ok: T[];
  failed: { item: T; error: BucketspaceError }[];
}

/**
 * Runs transfers with bounded concurrency. A failure of one never stops the
 * others; but once the server is unreachable (after the SDK's own retries),
 * the transfers not yet started fail at once with that error instead of each
 * waiting through its own retries.
 */
export async function runTransfers<T>(options: {
  items: readonly T[];
  concurrency: number;
  signal?: AbortSignal;
  run: (item: T) => Promise<void>;
}): Promise<TransferOutcome<T>> {
  const limit = pLimit(options.concurrency);
  const outcome: TransferOutcome<T> = { ok: [], failed: [] };
  let unreachable: BucketspaceError | undefined;
  await Promise.all(
    options.items.map((item) =>
      limit(async () => {
        if (options.signal?.aborted) {
          outcome.failed.push({
            item,
            error: new BucketspaceError('ABORTED', 'not started: stopping'),
          });
          return;
        }
        if (unreachable) {
          outcome.failed.push({
            item,
            error: new BucketspaceError(unreachable.code, `not attempted: ${unreachable.message}`, {
              retryable: true,
            }),
          });
          return;
        }
        try {
          await options.run(item);
          outcome.ok.push(item);
        } catch (err) {
          const error = isBucketspaceError(err)
            ? err
            : new BucketspaceError('INTERNAL', errorMessage(err), { cause: err });
          if (error.code === 'S3_UNREACHABLE' || error.code === 'S3_AUTH') unreachable ??= error;
          outcome.failed.push({ item, error });
        }
      }),
    ),
  );
  return outcome;
}
