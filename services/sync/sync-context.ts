import type { Clock } from '../common/clock.ts';
import type { Logger } from '../common/logger.ts';
import type { ObjectStore } from '../common/s3/object-store.ts';
import type { TrashSettings } from './operations/remove.ts';
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
  /** Where removed objects go: the trash (operations/remove.ts, decision 0045). */
  trash: TrashSettings;
  /** The time of trash entries and of the retention purge. */
  clock: Clock;
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
