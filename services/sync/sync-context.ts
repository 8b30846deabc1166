import type { Logger } from '../common/logger.ts';
import type { ObjectStore } from '../common/s3/object-store.ts';
import type { SyncState } from './sync-state.ts';
import type { MaxDelete } from './sync-settings.ts';
import type { ProgressSink } from './types.ts';

/** Everything a sync run needs, made once in the CLI and passed down. */
export interface SyncContext {
  store: ObjectStore;
  state: SyncState;
  logger: Logger;
  workspacesDir: string;
  concurrency: number;
  maxDelete: MaxDelete;
  extraExcludes: readonly string[];
  deleteMissingWorkspaces: boolean;
  progress: ProgressSink;
  signal?: AbortSignal;
}

export interface RunOptions {
  /** Only this workspace (`sync workspace <name>`, `sync pull <name>`). */
  only?: string;
  dryRun: boolean;
  noDelete: boolean;
  force: boolean;
}
