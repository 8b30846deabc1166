import { join } from 'node:path';
import type { LimitFunction } from 'p-limit';
import type { Logger } from '../common/logger.ts';
import type { ObjectStore } from '../common/s3/object-store.ts';
import { S3ObjectStore } from '../common/s3/s3-object-store.ts';
import { SyncState } from '../sync/sync-state.ts';
import type { ProgressSink } from '../sync/types.ts';
import type { MirrorSettings } from './mirror-settings.ts';
import type { MirrorEvent } from './types.ts';

/** Everything a mirror's runs need, made once when it opens. */
export interface MirrorContext {
  settings: MirrorSettings;
  logger: Logger;
  buckets: BucketStores;
  /** One slot per transfer: `maxWorkers` bounds every download and upload of the mirror together. */
  slots: LimitFunction;
  /** A progress bar for a run the caller waits for (nothing when progress is off or not on a terminal). */
  progress(): ProgressSink;
  emit(event: MirrorEvent): void;
}

/** One bucket: its store and what the mirror remembers about the paths mirrored from it. */
export interface Bucket {
  store: ObjectStore;
  state: SyncState;
}

/** The mirror's remembered state: under the cache root, so removing the cache forgets it too. */
export const STATE_DIR_NAME = '.bucketspace-state';

/** Every bucket a mirror has used, each with its own store (S3 settings are per bucket). */
export class BucketStores {
  readonly #settings: MirrorSettings;
  readonly #logger: Logger;
  readonly #buckets = new Map<string, Bucket>();

  constructor(settings: MirrorSettings, logger: Logger) {
    this.#settings = settings;
    this.#logger = logger;
  }

  get(name: string): Bucket {
    let bucket = this.#buckets.get(name);
    if (bucket === undefined) {
      const config = this.#settings.s3For(name);
      bucket = {
        store: new S3ObjectStore({
          config,
          logger: this.#logger.child({ component: 's3', bucket: name }),
          maxSockets: Math.max(16, this.#settings.maxWorkers * 2),
        }),
        state: new SyncState({
          stateDir: join(this.#settings.cacheRoot, STATE_DIR_NAME),
          endpoint: config.endpoint ?? 'aws',
          bucket: name,
          logger: this.#logger,
        }),
      };
      this.#buckets.set(name, bucket);
    }
    return bucket;
  }

  destroy(): void {
    for (const { store } of this.#buckets.values()) store.destroy();
    this.#buckets.clear();
  }
}
