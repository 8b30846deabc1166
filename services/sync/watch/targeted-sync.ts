import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../common/clock.ts';
import { asBucketspaceError, systemErrorCode } from '../../common/errors.ts';
import {
  explainAfterEntering,
  type WorkspaceFilter,
} from '../../common/ignore/workspace-filter.ts';
import type { Logger } from '../../common/logger.ts';
import type { WalkedFile } from '../../common/walk.ts';
import { objectKey, splitKey } from '../object-keys.ts';
import { removeObjects } from '../operations/remove.ts';
import { isUnchanged, stateOf } from '../operations/state.ts';
import { uploadFile } from '../operations/upload.ts';
import { deleteRefusals, type DeleteRailsInput } from '../rails.ts';
import type { RunOptions, SyncContext } from '../sync-context.ts';
import type { StateEntry } from '../types.ts';
import type { DeleteWindow } from './delete-window.ts';

/**
 * What watch mode keeps of one workspace between batches: nothing per file.
 * What is in the bucket is the saved state (every file uploaded or verified,
 * with its ETag: loaded for each batch, saved after it) plus `untracked`.
 */
export interface WatchedWorkspace {
  name: string;
  root: string;
  filter: WorkspaceFilter;
  /** Objects in the bucket that the state does not describe (kept deletions, unreadable files), as of the last full sync. */
  untracked: Set<string>;
  deletes: DeleteWindow;
}

/** What one batch knows of a workspace's objects: the state, and the untracked ones. */
interface Known {
  state: Map<string, StateEntry>;
  untracked: Set<string>;
}

function inBucket(known: Known, rel: string): boolean {
  return known.state.has(rel) || known.untracked.has(rel);
}

export interface TargetedOutcome {
  uploaded: number;
  deleted: number;
  /** Paths to try again (S3 unreachable, or a file replaced while it was read). */
  retry: string[];
  /** A directory or symlink changed: the workspace needs a reconcile (walk and diff). */
  reconcile: boolean;
}

/**
 * The targeted sync of watch mode: only the changed paths of one workspace
 * are looked at (a stat each, the filter) and uploaded or deleted through the
 * operations layer, under the same rails as a full sync — the deletions of
 * the last minute counting together.
 */
export async function syncPaths(
  ctx: SyncContext,
  ws: WatchedWorkspace,
  paths: readonly string[],
  options: { run: RunOptions; clock: Clock; log: Logger },
): Promise<TargetedOutcome> {
  const { log } = options;
  const outcome: TargetedOutcome = { uploaded: 0, deleted: 0, retry: [], reconcile: false };
  const known: Known = { state: await ctx.state.load(ws.name), untracked: ws.untracked };
  const uploads: WalkedFile[] = [];
  const deletes: string[] = [];
  for (const rel of [...paths].sort()) {
    const change = await classify(ws, known, rel, log);
    if (change.kind === 'upload') uploads.push(change.file);
    else if (change.kind === 'delete') deletes.push(rel);
    else if (change.kind === 'reconcile') outcome.reconcile = true;
  }
  await Promise.all(
    uploads.map(async (file) => {
      const key = objectKey(ws.name, file.relPath);
      try {
        const etag = await uploadFile(ctx, file, key);
        known.state.set(file.relPath, stateOf(file, etag));
        known.untracked.delete(file.relPath);
        outcome.uploaded += 1;
        log.debug({ workspace: ws.name, path: file.relPath }, 'uploaded');
      } catch (err) {
        const e = asBucketspaceError(err);
        // Gone between the stat and the read (an editor's rename): its event comes, or the retry sees it.
        if (e.code === 'LOCAL_NOT_FOUND') {
          outcome.retry.push(file.relPath);
          return;
        }
        log.warn({ workspace: ws.name, path: file.relPath, err: e }, 'upload failed');
        if (e.retryable) outcome.retry.push(file.relPath);
      }
    }),
  );
  if (deletes.length > 0) await deletePaths(ctx, ws, known, deletes, outcome, options);
  if (outcome.uploaded + outcome.deleted > 0) await ctx.state.save(ws.name, known.state);
  return outcome;
}

type Change =
  | { kind: 'upload'; file: WalkedFile }
  | { kind: 'delete' }
  | { kind: 'reconcile' }
  | { kind: 'none' };

/** What one changed path needs: an upload, a delete, a reconcile, or nothing. */
async function classify(
  ws: WatchedWorkspace,
  known: Known,
  rel: string,
  log: Logger,
): Promise<Change> {
  const abs = join(ws.root, rel);
  let st;
  try {
    st = await lstat(abs);
  } catch (err) {
    const code = systemErrorCode(err);
    if (code !== 'ENOENT' && code !== 'ENOTDIR') {
      log.warn(
        { workspace: ws.name, path: rel, err: asBucketspaceError(err) },
        'cannot stat changed file',
      );
      return { kind: 'none' };
    }
    return inBucket(known, rel) ? { kind: 'delete' } : { kind: 'none' };
  }
  if (st.isDirectory() || st.isSymbolicLink()) return { kind: 'reconcile' };
  if (!st.isFile()) return { kind: 'none' };
  if ((await explainAfterEntering(ws.filter, rel, false)).ignored) {
    log.debug({ workspace: ws.name, path: rel }, 'changed file is excluded; not uploaded');
    return inBucket(known, rel) ? { kind: 'delete' } : { kind: 'none' };
  }
  const file: WalkedFile = {
    relPath: rel,
    absPath: abs,
    size: st.size,
    mtimeMs: st.mtimeMs,
    ctimeMs: st.ctimeMs,
    ino: st.ino,
    mode: st.mode,
  };
  // The object is the one the state remembers uploading (the bucket as this watch left it).
  const entry = known.state.get(rel);
  if (entry && isUnchanged(entry, file, entry)) return { kind: 'none' };
  return { kind: 'upload', file };
}

/** Removes (into the trash) the objects of vanished or now-excluded paths, unless a rail refuses. */
async function deletePaths(
  ctx: SyncContext,
  ws: WatchedWorkspace,
  known: Known,
  paths: readonly string[],
  outcome: TargetedOutcome,
  options: { run: RunOptions; clock: Clock; log: Logger },
): Promise<void> {
  const { log, clock, run } = options;
  const now = clock.now();
  const refusals = deleteRefusals({
    workspace: ws.name,
    target: 'objects',
    deletes: paths.length,
    total: known.state.size + known.untracked.size,
    maxDelete: ctx.maxDelete,
    recent: { count: ws.deletes.recent(now), windowMs: ws.deletes.windowMs },
    ...(await emptyRoot(ws.root)),
  });
  if (refusals.length > 0 && !run.force) {
    for (const r of refusals)
      log.error(
        { workspace: ws.name, rule: r.rule, deletes: paths.length },
        `refused: ${r.message}; nothing deleted`,
      );
    return;
  }
  for (const r of refusals)
    log.warn(
      { workspace: ws.name, rule: r.rule },
      `--force overrides a safety refusal: ${r.message}`,
    );
  if (run.noDelete) return;
  const result = await removeObjects(
    ctx,
    paths.map((rel) => ({ key: objectKey(ws.name, rel), size: known.state.get(rel)?.size ?? 0 })),
    now,
  );
  for (const key of result.deleted) {
    const { relPath } = splitKey(key);
    known.state.delete(relPath);
    known.untracked.delete(relPath);
  }
  outcome.deleted += result.deleted.length;
  ws.deletes.record(now, result.deleted.length);
  for (const t of result.trashed)
    log.info(
      { workspace: ws.name, entry: t.entry, objects: t.objects },
      'moved deleted files to the trash',
    );
  for (const f of result.failed) {
    const { relPath } = splitKey(f.key);
    log.warn({ workspace: ws.name, path: relPath, code: f.code }, f.message);
    if (f.retryable) outcome.retry.push(relPath);
  }
}

/** The empty-workspace rail's input: the root missing, unreadable or empty. */
async function emptyRoot(root: string): Promise<Pick<DeleteRailsInput, 'empty'>> {
  const entries = await readdir(root).catch(() => undefined);
  if (entries === undefined)
    return {
      empty: {
        rule: 'workspace-dir',
        reason: `the workspace directory ${root} is missing or unreadable`,
      },
    };
  if (entries.length === 0)
    return { empty: { rule: 'workspace-dir', reason: `the workspace directory ${root} is empty` } };
  return {};
}
