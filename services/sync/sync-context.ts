import type { Logger } from '../common/logger.ts';
import type { ObjectStore } from '../common/object-store.ts';
import type { ProgressSink } from './progress.ts';
import type { SyncState } from './sync-state.ts';
import type { MaxDelete } from './sync-settings.ts';

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

export function formatRule(
  rule: { source: string; line: number; pattern: string } | undefined,
): string {
  return rule ? `${rule.source}:${rule.line}:${rule.pattern}` : '(no rule)';
}
