import { join } from 'node:path';
import { asBucketspaceError, BucketspaceError, errorMessage } from '../common/errors.ts';
import { explainPath, WorkspaceFilter } from '../common/ignore/workspace-filter.ts';
import { walkWorkspace, type WalkResult } from '../common/walk.ts';
import { verifyAndRemember } from './operations/verify.ts';
import { planPush } from './plan.ts';
import { deleteRefusals, missingWorkspacesRefusal } from './rails.ts';
import { addFailure, addWalkProblems, formatRule } from './report.ts';
import type { RunOptions, SyncContext } from './sync-context.ts';
import type {
  PlanLine,
  PlannedDelete,
  Refusal,
  RemoteFile,
  StateEntry,
  SyncSummary,
  WorkspacePlan,
} from './types.ts';
import { isWorkspaceEntryName } from '../common/workspace-name.ts';
import { assertWorkspaceArgument, listLocalWorkspaces } from './workspaces.ts';

// The planning half of a push (push.ts runs it): which workspaces, each one's
// walk, diff, same-size hashing and rails, and the prefixes whose directory is gone.

/** One workspace, planned: what to upload and delete, and what the rails say. */
export interface WorkspaceWork {
  name: string;
  plan: WorkspacePlan;
  walk: WalkResult;
  state: Map<string, StateEntry>;
  /** The state as loaded, to skip rewriting it when nothing changed. */
  loadedState: Map<string, StateEntry>;
  refusals: Refusal[];
}

/** The workspaces a push covers: every local one, or the one asked for. */
export async function workspacesToPush(
  ctx: SyncContext,
  only: string | undefined,
): Promise<string[]> {
  let local;
  try {
    local = await listLocalWorkspaces(ctx.workspacesDir, ctx.logger);
  } catch (err) {
    throw new BucketspaceError(
      'SAFETY_REFUSED',
      `refusing to sync: ${errorMessage(err)}. If the disk or mount is gone, nothing in the bucket was touched. Create the directory or set WORKSPACES_DIR.`,
      { cause: err },
    );
  }
  if (only === undefined) return local.names;
  assertWorkspaceArgument(only);
  return local.names.filter((n) => n === only);
}

/**
 * Remote prefixes whose local directory is gone: their objects are removed
 * (moved to the trash by push), unless SYNC_DELETE_MISSING_WORKSPACES=false
 * keeps them (said so); returns their planned removals. Refusals (the rails'
 * missingWorkspacesRefusal) go into the summary.
 */
export function missingWorkspaces(
  ctx: SyncContext,
  options: RunOptions,
  names: readonly string[],
  remoteByWs: ReadonlyMap<string, RemoteFile[]>,
  summary: SyncSummary,
  lines: PlanLine[],
): PlannedDelete[] {
  // Hidden prefixes (`.x/`) are never workspaces: a push leaves them alone.
  const missing = [...remoteByWs.keys()]
    .filter((ws) => !names.includes(ws) && isWorkspaceEntryName(ws))
    .sort();
  if (options.only !== undefined && names.length === 0) {
    const objects = remoteByWs.get(options.only)?.length ?? 0;
    const dir = join(ctx.workspacesDir, options.only);
    if (objects === 0) {
      throw new BucketspaceError(
        'USAGE',
        `no workspace "${options.only}": ${dir} does not exist and the bucket has nothing under ${options.only}/`,
      );
    }
    if (!ctx.deleteMissingWorkspaces) {
      summary.refusals.push({
        workspace: options.only,
        rule: 'workspace-dir',
        message: `workspace directory ${dir} does not exist; its ${objects} objects in the bucket are kept (SYNC_DELETE_MISSING_WORKSPACES=false; pass --delete-missing-workspaces to move them to the trash)`,
        deletesWithheld: objects,
      });
    }
  }
  const deletes: PlannedDelete[] = [];
  for (const ws of missing) {
    const objects = remoteByWs.get(ws) ?? [];
    if (ctx.deleteMissingWorkspaces) {
      for (const o of objects)
        deletes.push({
          relPath: o.relPath,
          key: o.key,
          size: o.size,
          reason: 'workspace directory removed',
        });
    } else {
      summary.keptWorkspaces.push(ws);
      lines.push({
        action: 'keep',
        workspace: ws,
        path: '',
        reason: `${objects.length} objects kept: no local directory (SYNC_DELETE_MISSING_WORKSPACES=false)`,
      });
    }
  }
  if (options.only === undefined) {
    const refusal = missingWorkspacesRefusal({
      workspacesDir: ctx.workspacesDir,
      localWorkspaces: names.length,
      missing: ctx.deleteMissingWorkspaces ? missing : [],
      objects: deletes.length,
    });
    if (refusal) summary.refusals.push(refusal);
  }
  return deletes;
}

/** Read one workspace's ignore rules, walk it, load what we remember of it; diff with its objects and ask the rails. */
export async function planWorkspace(
  ctx: SyncContext,
  name: string,
  remote: readonly RemoteFile[],
  summary: SyncSummary,
): Promise<WorkspaceWork | undefined> {
  const log = ctx.logger.child({ component: 'push', workspace: name });
  const root = join(ctx.workspacesDir, name);
  let filter: WorkspaceFilter;
  let walk: WalkResult;
  let state: Map<string, StateEntry>;
  try {
    filter = await WorkspaceFilter.load({ root, extraExcludes: ctx.extraExcludes });
    walk = await walkWorkspace({ root, filter, signal: ctx.signal });
    state = await ctx.state.load(name);
  } catch (err) {
    // Without the ignore rules we cannot know what is secret: upload nothing, delete nothing.
    const error = asBucketspaceError(err);
    log.error({ err: error }, 'workspace not synced');
    addFailure(summary, { workspace: name, path: '', code: error.code, message: error.message });
    summary.refusals.push({
      workspace: name,
      rule: 'walk-errors',
      message: `${name}: ${error.message}; nothing uploaded or deleted in this workspace`,
      deletesWithheld: 0,
    });
    return undefined;
  }
  const loadedState = new Map(state);
  for (const s of addWalkProblems(summary, name, walk))
    log.info({ path: s.path, reason: s.reason }, s.message);

  const protectedPaths = new Set(
    walk.skipped
      .filter((s) => s.reason === 'unreadable' || s.reason === 'invalid-name')
      .map((s) => s.relPath),
  );
  const plan = planPush({
    workspace: name,
    local: walk.files,
    remote,
    state,
    protectedPaths,
    deleteReason: (relPath) => {
      const why = explainPath(filter, relPath, false);
      if (!why.ignored) return 'deleted locally';
      return why.excludedAncestor !== undefined
        ? `now excluded: ${why.excludedAncestor} by ${formatRule(why.rule)}`
        : `now excluded by ${formatRule(why.rule)}`;
    },
  });

  // Same size, but not provably the same: hash and compare with the ETag.
  if (plan.verify.length > 0) {
    const verdicts = await verifyAndRemember(
      plan.verify,
      Math.max(2, Math.min(ctx.concurrency, 8)),
      state,
    );
    plan.unchanged += verdicts.same.length;
    for (const { file, remote: r } of verdicts.changed)
      plan.uploads.push({ file, key: r.key, reason: 'content changed' });
    plan.verify = [];
    log.debug({ hashed: verdicts.changed.length }, 'verified same-size files by content');
  }

  const seenAnything = walk.files.length + walk.skipped.length + walk.ignored.length > 0;
  const refusals = deleteRefusals({
    workspace: name,
    target: 'objects',
    deletes: plan.deletes.length,
    total: plan.remoteCount,
    maxDelete: ctx.maxDelete,
    unreadable: { count: walk.errors.length, first: walk.errors[0] },
    ...(seenAnything
      ? {}
      : { empty: { rule: 'workspace-dir', reason: 'the workspace directory is empty' } }),
  });
  return { name, plan, walk, state, loadedState, refusals };
}
