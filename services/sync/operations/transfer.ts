import type { ObjectStore } from '../../common/s3/object-store.ts';

/** What every operation needs: the store, and the signal that stops the run. */
export interface Transfer {
  store: ObjectStore;
  signal?: AbortSignal;
}
