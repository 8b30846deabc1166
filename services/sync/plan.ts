import type { WalkedFile } from '../common/walk.ts';
import type { PlannedDelete, RemoteFile, StateEntry, WorkspacePlan } from './types.ts';

export interface PlanPushInput {
  workspace: string;
  local: readonly WalkedFile[];
  remote: readonly RemoteFile[];
  state: ReadonlyMap<string, StateEntry>;
  /** Local paths that exist but could not be read: their remote copies are kept. */
  protectedPaths: ReadonlySet<string>;
  /** Explains why a remote-only path is going away (its excluding rule, or "deleted locally"). */
  deleteReason: (relPath: string) => string;
}

/** Does the remembered stat still describe this file, and the remote object still the one we uploaded? */
export function stateMatches(
  entry: StateEntry | undefined,
  file: WalkedFile,
  remote: RemoteFile,
): boolean {
  return (
    entry !== undefined &&
    entry.size === file.size &&
    entry.mtimeMs === file.mtimeMs &&
    entry.ctimeMs === file.ctimeMs &&
    entry.ino === file.ino &&
    entry.etag === remote.etag &&
    remote.size === file.size
  );
}

export function objectKey(workspace: string, relPath: string): string {
  return `${workspace}/${relPath}`;
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
    const key = objectKey(input.workspace, file.relPath);
    if (!remote) plan.uploads.push({ file, key, reason: 'new' });
    else if (remote.size !== file.size) plan.uploads.push({ file, key, reason: 'size changed' });
    else if (stateMatches(input.state.get(file.relPath), file, remote)) plan.unchanged += 1;
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

/**
 * Split a bucket listing into workspaces: `ws/a/b.txt` -> workspace `ws`,
 * relPath `a/b.txt`. Directory markers (keys ending in `/`) and keys at the
 * bucket root are not files of any workspace and are left alone.
 */
export function groupRemoteByWorkspace(
  objects: readonly { key: string; size: number; etag: string; lastModified: Date }[],
): Map<string, RemoteFile[]> {
  const out = new Map<string, RemoteFile[]>();
  for (const obj of objects) {
    const slash = obj.key.indexOf('/');
    if (slash <= 0 || obj.key.endsWith('/')) continue;
    const workspace = obj.key.slice(0, slash);
    const relPath = obj.key.slice(slash + 1);
    let list = out.get(workspace);
    if (!list) out.set(workspace, (list = []));
    list.push({ ...obj, relPath });
  }
  return out;
}
