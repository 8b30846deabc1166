import { asBucketspaceError } from '../../common/errors.ts';
import type { Transfer } from './transfer.ts';

export interface DeleteOutcome {
  deleted: string[];
  failed: { key: string; code: string; message: string; retryable: boolean }[];
}

/**
 * Deletes objects (in batches of 1,000). Never throws: a key the server
 * refused, or every key of a request that failed, comes back in `failed`.
 * The rails (rails.ts) are asked before this is called, never here.
 */
export async function deleteObjects(
  transfer: Transfer,
  keys: readonly string[],
): Promise<DeleteOutcome> {
  if (keys.length === 0) return { deleted: [], failed: [] };
  try {
    const res = await transfer.store.deleteMany(keys, transfer.signal);
    return {
      deleted: res.deleted,
      failed: res.failed.map((f) => ({
        key: f.key,
        code: f.code,
        message: `delete failed: ${f.message}`,
        retryable: false,
      })),
    };
  } catch (err) {
    const e = asBucketspaceError(err);
    return {
      deleted: [],
      failed: keys.map((key) => ({
        key,
        code: e.code,
        message: e.message,
        retryable: e.retryable,
      })),
    };
  }
}
