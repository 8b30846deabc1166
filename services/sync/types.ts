import type { WalkedFile, WalkSkip } from '../common/walk.ts';
import type { ObjectInfo } from '../common/s3/object-store.ts';

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

/** A file on both sides with the same size that the stat alone cannot prove unchanged: hash to decide. */
export interface SameSizePair {
  file: WalkedFile;
  remote: RemoteFile;
}

export interface WorkspacePlan {
  workspace: string;
  uploads: PlannedUpload[];
  /** Same size but stat changed or nothing remembered: hash to decide. */
  verify: SameSizePair[];
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

/**
 * A safety rail that refused deletions. `rule` is its stable code: what
 * scripts (`--json`) and tests read; the message is for people.
 */
export interface Refusal {
  workspace: string;
  rule:
    | 'workspaces-dir'
    | 'several-workspaces'
    | 'workspace-dir'
    | 'walk-errors'
    | 'listing-errors'
    | 'max-delete'
    | 'remote-empty';
  message: string;
  /** Deletions that were not made because of this refusal. */
  deletesWithheld: number;
}

export interface SkippedFile {
  workspace: string;
  path: string;
  /** Why: the walk's reason; `excluded` (pull: in the bucket, excluded by a rule); `unsafe-key` (pull: a key that would be written outside its workspace). */
  reason: WalkSkip['reason'] | 'excluded' | 'unsafe-key';
  message: string;
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
  skips: SkippedFile[];
  refusals: Refusal[];
  overridden: Refusal[];
  keptWorkspaces: string[];
  /** Where removed objects went: one trash entry per workspace and run (empty without a trash). */
  trashed: { workspace: string; entry: string; objects: number; bytes: number }[];
  /** Trash entries deleted because their retention was over (a dry run: would be). */
  purged: { workspace: string; entry: string; objects: number }[];
  /** Workspaces synced that the monitor will not run (their names), with why. */
  unservable: { workspace: string; reason: string }[];
}

/** One line of a run's plan (printed by a dry run, and in `--json` with --dry-run). */
export interface PlanLine {
  action:
    | 'upload'
    | 'delete'
    | 'download'
    | 'delete-local'
    | 'keep'
    | 'skip'
    | 'note'
    | 'purge'
    | 'restore';
  workspace: string;
  path: string;
  reason: string;
  bytes?: number;
}

/** Where a long job reports how far it is. */
export interface ProgressSink {
  start(label: string, totalFiles: number, totalBytes: number): void;
  /** More work found after the start (a push plans workspace by workspace while it uploads). */
  grow(files: number, bytes: number): void;
  /** `files` finished and `bytes` transferred since the last call. */
  tick(files: number, bytes: number): void;
  stop(): void;
}
