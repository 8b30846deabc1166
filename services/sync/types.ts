import type { WalkedFile, WalkSkip } from '../common/walk.ts';
import type { ObjectInfo } from '../common/object-store.ts';

/** What the sync remembers about one uploaded file (see sync-state.ts). */
export interface StateEntry {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  etag: string;
}

/** A remote object with its key made relative to the workspace prefix. */
export interface RemoteFile extends ObjectInfo {
  relPath: string;
}

export type UploadReason = 'new' | 'size changed' | 'content changed';

export interface PlannedUpload {
  file: WalkedFile;
  key: string;
  reason: UploadReason;
}

export interface PlannedDelete {
  relPath: string;
  key: string;
  size: number;
  /** Why: deleted locally, or the rule that now excludes it. */
  reason: string;
}

export interface WorkspacePlan {
  workspace: string;
  uploads: PlannedUpload[];
  /** Same size but stat changed or nothing remembered: hash to decide. */
  verify: { file: WalkedFile; remote: RemoteFile }[];
  deletes: PlannedDelete[];
  unchanged: number;
  /** Remote objects kept because their local file could not be read this run. */
  protectedRemote: string[];
  remoteCount: number;
}

export interface FailedFile {
  workspace: string;
  path: string;
  code: string;
  message: string;
}

export interface Refusal {
  workspace: string;
  rule:
    | 'workspaces-dir'
    | 'workspace-dir'
    | 'walk-errors'
    | 'listing-errors'
    | 'max-delete'
    | 'remote-empty';
  message: string;
  /** Deletions that were not made because of this refusal. */
  deletesWithheld: number;
}

/** The one machine-readable summary (`--json`). */
export interface SyncSummary {
  direction: 'push' | 'pull';
  dryRun: boolean;
  workspaces: number;
  uploaded: number;
  downloaded: number;
  deleted: number;
  unchanged: number;
  skipped: number;
  failed: number;
  bytes: number;
  seconds: number;
  failures: FailedFile[];
  skips: {
    workspace: string;
    path: string;
    reason: WalkSkip['reason'] | 'excluded';
    message: string;
  }[];
  refusals: Refusal[];
  overridden: Refusal[];
  keptWorkspaces: string[];
}
