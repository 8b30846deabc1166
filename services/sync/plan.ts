import type { WalkedFile } from '../common/walk.ts';
import { objectKey } from './object-keys.ts';
import { isUnchanged } from './operations/state.ts';
import type {
  PlannedDelete,
  RemoteFile,
  SameSizePair,
  StateEntry,
  WorkspacePlan,
} from './types.ts';

export interface PlanPushInput {
  workspace: string;
  local: readonly WalkedFile[];
  remote: readonly RemoteFile[];
  state: ReadonlyMap<string, StateEntry>;
  /** Local paths that exist but could not be read: their remote copies are kept. */
  protectedPaths: ReadonlySet<string>;
  /** Explains why a remote-only path is going away (its excluding rule, or "deleted locally"). */
  deleteReason: (relPath: string) => string;
  /** The object key of a local path; `<workspace>/<relPath>` unless given (the mirror's prefixes). */
  keyOf?: (relPath: string) => string;
}

/**
 * The local/remote diff for one workspace (rclone's "march"): local-only files
 * are uploaded, remote-only objects deleted, and files on both sides compared
 * by size, then by the remembered stat and ETag; when that is not enough the
 * file goes to `verify` to be hashed. Pure: no I/O.
 */
export function planPush(input: PlanPushInput): WorkspacePlan {
  const remoteByPath = new Map<string, RemoteFile>();
  for (const r of input.remote) remoteByPath.set(r.relPath, r);
  const plan: WorkspacePlan = {
    workspace: input.workspace,
    uploads: [],
    verify: [],
    deletes: [],
    unchanged: 0,
    protectedRemote: [],
    remoteCount: input.remote.length,
  };
  const seen = new Set<string>();
  for (const file of input.local) {
    seen.add(file.relPath);
    const remote = remoteByPath.get(file.relPath);
    const key = input.keyOf?.(file.relPath) ?? objectKey(input.workspace, file.relPath);
    if (!remote) plan.uploads.push({ file, key, reason: 'new' });
    else if (remote.size !== file.size) plan.uploads.push({ file, key, reason: 'size changed' });
    else if (isUnchanged(input.state.get(file.relPath), file, remote)) plan.unchanged += 1;
    else plan.verify.push({ file, remote });
  }
  for (const remote of input.remote) {
    if (seen.has(remote.relPath)) continue;
    if (input.protectedPaths.has(remote.relPath)) {
      plan.protectedRemote.push(remote.relPath);
      continue;
    }
    const del: PlannedDelete = {
      relPath: remote.relPath,
      key: remote.key,
      size: remote.size,
      reason: input.deleteReason(remote.relPath),
    };
    plan.deletes.push(del);
  }
  plan.uploads.sort((a, b) => (a.file.relPath < b.file.relPath ? -1 : 1));
  plan.deletes.sort((a, b) => (a.relPath < b.relPath ? -1 : 1));
  return plan;
}

export interface PlanPullInput {
  local: readonly WalkedFile[];
  remote: readonly RemoteFile[];
  state: ReadonlyMap<string, StateEntry>;
  /** Whether a remote object is excluded from pulling, and by which rule (for the skip). */
  excluded: (relPath: string) => string | undefined;
}

export interface PullPlan {
  downloads: { remote: RemoteFile; reason: string }[];
  /** Same size, not provably the same: hash to decide. */
  verify: SameSizePair[];
  unchanged: number;
  /** Objects the filter excludes (`.env` that reached the bucket somehow): never pulled. */
  excluded: { remote: RemoteFile; rule: string }[];
  /** Local files the bucket does not have (after the filter): deleted by a pull. */
  deletes: WalkedFile[];
  /** Objects the pull takes into account (not excluded). */
  included: number;
}

/** The bucket/local diff of one workspace for a pull (the reverse march). Pure: no I/O. */
export function planPull(input: PlanPullInput): PullPlan {
  const planner = new PullPlanner(input);
  for (const r of input.remote) planner.add(r);
  return planner.finish();
}

/**
 * planPull one object at a time, for a listing that arrives page by page:
 * each page is planned while the next is on its way, and only the local files
 * the bucket lacks are left for `finish()`. Pure: no I/O.
 */
export class PullPlanner {
  readonly #input: Omit<PlanPullInput, 'remote'>;
  readonly #localByPath: Map<string, WalkedFile>;
  readonly #included = new Set<string>();
  readonly #plan: PullPlan = {
    downloads: [],
    verify: [],
    unchanged: 0,
    excluded: [],
    deletes: [],
    included: 0,
  };

  constructor(input: Omit<PlanPullInput, 'remote'>) {
    this.#input = input;
    this.#localByPath = new Map(input.local.map((f) => [f.relPath, f]));
  }

  add(r: RemoteFile): void {
    const plan = this.#plan;
    const rule = this.#input.excluded(r.relPath);
    if (rule !== undefined) {
      plan.excluded.push({ remote: r, rule });
      return;
    }
    this.#included.add(r.relPath);
    const local = this.#localByPath.get(r.relPath);
    if (!local) plan.downloads.push({ remote: r, reason: 'not present locally' });
    else if (local.size !== r.size) plan.downloads.push({ remote: r, reason: 'size differs' });
    else if (isUnchanged(this.#input.state.get(r.relPath), local, r)) plan.unchanged += 1;
    else plan.verify.push({ file: local, remote: r });
  }

  /** The plan of every object added; the planner is not used after. */
  finish(): PullPlan {
    const plan = this.#plan;
    plan.included = this.#included.size;
    plan.deletes = this.#input.local.filter((f) => !this.#included.has(f.relPath));
    return plan;
  }
}
