import { lstat, rename, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BucketspaceError, systemErrorCode } from '../../common/errors.ts';
import { localEtags } from '../../common/s3/etag.ts';
import { trashPrefix } from '../../common/trash-names.ts';
import { deleteObjects } from '../operations/delete.ts';
import { downloadFile } from '../operations/download.ts';
import type { SyncContext } from '../sync-context.ts';
import { runTransfers } from '../transfer-queue.ts';
import type { FailedFile, PlanLine } from '../types.ts';
import { assertWorkspaceArgument, listLocalWorkspaces } from '../workspaces.ts';
import { chooseEntry, indexTrash, type TrashEntry, type TrashObject } from './trash-index.ts';

/** Where a restore into a new workspace is assembled before it appears at once (a hidden entry). */
export const RESTORE_STAGING_DIR = '.bucketspace-restore';

export interface RestoreOptions {
  /** The workspace whose entry is restored. */
  workspace: string;
  /** Which entry (trash-index.ts chooseEntry); the newest without. */
  at?: string;
  /** Restore under this name instead (`--as`). */
  as?: string;
  dryRun: boolean;
}

export interface RestoreResult {
  workspace: string;
  /** The workspace it was restored into. */
  target: string;
  entry: string;
  deletedAt: string;
  /** `new`: the workspace did not exist and appeared whole; `existing`: files were added to it. */
  into: 'new' | 'existing';
  /** Files written (a dry run: that would be). */
  restored: number;
  /** Files already there with the same content (restoring into an existing workspace). */
  same: number;
  bytes: number;
  failures: FailedFile[];
  plan: PlanLine[];
}

/**
 * Brings a trash entry back into WORKSPACES_DIR: the files as they were,
 * with their modes and mtimes (from the objects' metadata). Never
 * overwrites anything:
 *
 * - a workspace that does not exist is assembled in a hidden directory and
 *   renamed into place when complete, so neither a running `sync watch` nor
 *   a sync sees it half restored;
 * - into a workspace that exists, only files it lacks are added; a file that
 *   is there with other content refuses the whole restore (SAFETY_REFUSED,
 *   naming them) before anything is written;
 * - a workspace that is in the bucket but has no local directory refuses
 *   (its next sync would remove what is not restored): pull it first.
 *
 * The caller uploads the workspace (a sync), then removes the entry from
 * the trash (`removeEntry`).
 */
export async function restoreFromTrash(
  ctx: SyncContext,
  options: RestoreOptions,
): Promise<{ result: RestoreResult; chosen: TrashEntry }> {
  assertWorkspaceArgument(options.workspace);
  const target = options.as ?? options.workspace;
  assertWorkspaceArgument(target);
  await listLocalWorkspaces(ctx.workspacesDir, ctx.logger).catch((err: unknown) => {
    throw new BucketspaceError(
      'USAGE',
      `cannot restore into WORKSPACES_DIR: ${(err as Error).message}. Create the directory or set WORKSPACES_DIR`,
      { cause: err },
    );
  });
  let { entries } = indexTrash(await ctx.store.list(trashPrefix(options.workspace), ctx.signal));
  // Nothing of it: the whole trash, to say what there is.
  if (entries.length === 0)
    entries = indexTrash(await ctx.store.list(trashPrefix(), ctx.signal)).entries;
  const choice = chooseEntry(entries, options.workspace, options.at);
  if ('problem' in choice)
    throw new BucketspaceError(
      'USAGE',
      `${choice.problem} (\`bucketspace sync trash\` lists the trash)`,
    );
  const chosen = choice.entry;
  const root = join(ctx.workspacesDir, target);
  const local = await lstat(root).catch((err: unknown) => {
    if (systemErrorCode(err) === 'ENOENT') return undefined;
    throw err;
  });
  const result: RestoreResult = {
    workspace: options.workspace,
    target,
    entry: chosen.entry,
    deletedAt: chosen.deletedAt.toISOString(),
    into: local === undefined ? 'new' : 'existing',
    restored: 0,
    same: 0,
    bytes: 0,
    failures: [],
    plan: [],
  };
  const asOther = `restore under another name with --as <name>`;

  let toWrite: TrashObject[];
  if (local === undefined) {
    const inBucket = (await ctx.store.list(`${target}/`, ctx.signal)).length;
    if (inBucket > 0)
      throw new BucketspaceError(
        'SAFETY_REFUSED',
        `the bucket holds ${inBucket} objects of "${target}" but ${root} does not exist: its next sync would remove what the restore does not bring back. Pull it first (\`bucketspace sync pull ${target}\`) and restore again, or ${asOther}`,
      );
    toWrite = chosen.objects;
  } else {
    if (!local.isDirectory() && !local.isSymbolicLink())
      throw new BucketspaceError(
        'SAFETY_REFUSED',
        `${root} exists and is not a directory; ${asOther}`,
      );
    const { missing, same, conflicts } = await compareWithLocal(root, chosen.objects);
    if (conflicts.length > 0)
      throw new BucketspaceError(
        'SAFETY_REFUSED',
        `restore never overwrites: ${conflicts.length} files of the entry exist in ${target} with other content (${conflicts
          .slice(0, 5)
          .join(
            ', ',
          )}${conflicts.length > 5 ? ', ...' : ''}); nothing was restored. Move them away, or ${asOther}`,
      );
    toWrite = missing;
    result.same = same;
  }
  for (const o of toWrite)
    result.plan.push({
      action: 'restore',
      workspace: target,
      path: o.relPath,
      reason: `from ${trashPrefix(chosen.workspace, chosen.entry)}`,
      bytes: o.size,
    });
  if (options.dryRun) {
    result.restored = toWrite.length;
    result.bytes = toWrite.reduce((n, o) => n + o.size, 0);
    return { result, chosen };
  }

  const into =
    local === undefined
      ? join(ctx.workspacesDir, RESTORE_STAGING_DIR, `${target}.${chosen.entry}`)
      : root;
  if (local === undefined) await rm(into, { recursive: true, force: true }); // a crashed restore's leftovers
  ctx.progress.start(
    'restore',
    toWrite.length,
    toWrite.reduce((n, o) => n + o.size, 0),
  );
  const outcome = await runTransfers({
    items: toWrite,
    concurrency: ctx.concurrency,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    run: async (o) => {
      const entry = await downloadFile(ctx, {
        root: into,
        relPath: o.relPath,
        key: o.key,
        listedEtag: o.etag,
        beforeReplace: () =>
          Promise.reject(
            new BucketspaceError(
              'SAFETY_REFUSED',
              `${o.relPath} appeared in ${target} during the restore; kept as it is`,
            ),
          ),
      });
      result.bytes += entry.size;
      ctx.progress.tick(1, entry.size);
    },
  });
  ctx.progress.stop();
  result.restored = outcome.ok.length;
  for (const f of outcome.failed)
    result.failures.push({
      workspace: target,
      path: f.item.relPath,
      code: f.error.code,
      message: f.error.message,
    });

  if (local !== undefined) return { result, chosen };
  const staging = join(ctx.workspacesDir, RESTORE_STAGING_DIR);
  if (result.failures.length > 0) {
    // All or nothing: a workspace that was gone never comes back in part.
    await rm(into, { recursive: true, force: true });
    await removeIfEmpty(staging);
    result.restored = 0;
    return { result, chosen };
  }
  // Appears whole, at once. Checked again just before: never over something that appeared meanwhile.
  if ((await lstat(root).catch(() => undefined)) !== undefined) {
    await rm(into, { recursive: true, force: true });
    await removeIfEmpty(staging);
    throw new BucketspaceError(
      'SAFETY_REFUSED',
      `${root} appeared during the restore; nothing was restored. ${asOther}`,
    );
  }
  await rename(into, root);
  await removeIfEmpty(staging);
  return { result, chosen };
}

/** Deletes a restored entry from the trash (its files are back in WORKSPACES_DIR). */
export async function removeEntry(ctx: SyncContext, entry: TrashEntry): Promise<FailedFile[]> {
  const outcome = await deleteObjects(
    ctx,
    entry.objects.map((o) => o.key),
  );
  ctx.trash.entries.close(entry.workspace, entry.entry);
  return outcome.failed.map((f) => ({
    workspace: entry.workspace,
    path: f.key,
    code: f.code,
    message: `not removed from the trash: ${f.message}`,
  }));
}

/**
 * The entry's files against an existing workspace: missing locally (to be
 * restored), there with the same content (size and MD5), or there with other
 * content (or a directory in the way): conflicts.
 */
async function compareWithLocal(
  root: string,
  objects: readonly TrashObject[],
): Promise<{ missing: TrashObject[]; same: number; conflicts: string[] }> {
  const missing: TrashObject[] = [];
  const conflicts: string[] = [];
  let same = 0;
  for (const o of objects) {
    const path = join(root, o.relPath);
    const st = await lstat(path).catch((err: unknown) => {
      const code = systemErrorCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw err;
    });
    if (st === undefined) missing.push(o);
    else if (
      st.isFile() &&
      st.size === o.size &&
      (await localEtags(path, st.size, o.etag)).includes(o.etag)
    )
      same += 1;
    else conflicts.push(o.relPath);
  }
  return { missing, same, conflicts };
}

async function removeIfEmpty(dir: string): Promise<void> {
  await rmdir(dir).catch(() => undefined);
}
