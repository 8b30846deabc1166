import { join } from 'node:path';
import pLimit from 'p-limit';
import { asBucketspaceError, BucketspaceError, errorMessage } from '../common/errors.ts';
import { explainPath, WorkspaceFilter } from '../common/ignore/workspace-filter.ts';
import type { Logger } from '../common/logger.ts';
import { walkWorkspace, type WalkResult } from '../common/walk.ts';
import { groupRemoteByWorkspace, objectKey, splitKey } from './object-keys.ts';
import { deleteObjects } from './operations/delete.ts';
import { sameState, stateAfterPush, stateOf } from './operations/state.ts';
import { uploadFile } from './operations/upload.ts';
import { verifyByContent } from './operations/verify.ts';
import { planPush } from './plan.ts';
import { deleteRefusals, deleteVerdict, missingWorkspacesRefusal } from './rails.ts';
import {
  addFailure,
  addSkip,
  addWalkProblems,
  deleteLine,
  emptySummary,
  formatRule,
  mergePlanning,
  summaryLogFields,
} from './report.ts';
import type { RunOptions, SyncContext } from './sync-context.ts';
import { TransferQueue } from './transfer-queue.ts';
import type {
  PlanLine,
  PlannedDelete,
  PlannedUpload,
  ProgressSink,
  Refusal,
  RemoteFile,
  StateEntry,
  SyncSummary,
  WorkspacePlan,
} from './types.ts';
import { assertWorkspaceArgument, listLocalWorkspaces } from './workspaces.ts';

export interface PushResult {
  summary: SyncSummary;
  plan: PlanLine[];
  /** Remote index after the run, per workspace (for watch mode). */
  remote: Map<string, Map<string, RemoteFile>>;
}

/** One workspace, planned: what to upload and delete, and what the rails say. */
interface WorkspaceWork {
  name: string;
  plan: WorkspacePlan;
  walk: WalkResult;
  state: Map<string, StateEntry>;
  /** The state as loaded, to skip rewriting it when nothing changed. */
  loadedState: Map<string, StateEntry>;
  refusals: Refusal[];
}

/**
 * Local -> bucket. Plans each workspace (walk, list, diff, hash when needed)
 * and starts its uploads as soon as it is planned; deletions happen after
 * every upload and only if no safety rail tripped anywhere in the run (or
 * --force).
 */
export async function pushSync(ctx: SyncContext, options: RunOptions): Promise<PushResult> {
  const started = performance.now();
  const log = ctx.logger.child({ component: 'push' });
  const summary = emptySummary('push', options.dryRun);
  const lines: PlanLine[] = [];
  const names = await workspacesToPush(ctx, options.only);

  // The listing (waiting on the server) and the walks (local stats) run at the
  // same time. Each workspace is planned as soon as its walk and the listing
  // are done, and its uploads start at once while the next workspaces are
  // still walked. Deletions still wait for every plan and rail.
  const remotePromise = (async () => {
    await ctx.store.ensureBucket(ctx.signal);
    const prefix = options.only !== undefined ? `${options.only}/` : '';
    return groupRemoteByWorkspace(await ctx.store.list(prefix, ctx.signal));
  })();
  remotePromise.catch(() => undefined); // awaited below; keeps an early failure from going unhandled

  const uploads = options.dryRun ? undefined : new UploadRun(ctx, summary, log);
  const scanLimit = pLimit(4);
  let planned: { work: WorkspaceWork | undefined; part: SyncSummary }[];
  try {
    planned = await Promise.all(
      names.map((name) =>
        scanLimit(async () => {
          const part = emptySummary('push', options.dryRun);
          const work = await planWorkspace(ctx, name, remotePromise, part);
          if (work) uploads?.add(work.plan.uploads);
          return { work, part };
        }),
      ),
    );
  } catch (err) {
    await uploads?.finish(); // never leave uploads running behind a failure
    throw err;
  }
  const remoteByWs = await remotePromise;
  const works: WorkspaceWork[] = [];
  for (const { work, part } of planned) {
    if (work) works.push(work);
    mergePlanning(summary, part);
  }
  summary.workspaces = names.length;

  const missing = missingWorkspaces(ctx, options, names, remoteByWs, summary, lines);
  const verdict = deleteVerdict(
    [...summary.refusals, ...works.flatMap((w) => w.refusals)],
    options,
  );
  summary.refusals = verdict.refusals;
  summary.overridden = verdict.overridden;
  for (const r of verdict.overridden)
    log.warn(
      { workspace: r.workspace, rule: r.rule },
      `--force overrides a safety refusal: ${r.message}`,
    );

  const plannedUploads: PlannedUpload[] = works.flatMap((w) => w.plan.uploads);
  const plannedDeletes = [...works.flatMap((w) => w.plan.deletes), ...missing];
  const deletes: PlannedDelete[] = verdict.blocked ? [] : plannedDeletes;
  for (const u of plannedUploads)
    lines.push({
      action: 'upload',
      workspace: splitKey(u.key).workspace,
      path: u.file.relPath,
      reason: u.reason,
      bytes: u.file.size,
    });
  const blockedBy = !verdict.blocked
    ? undefined
    : options.noDelete
      ? '--no-delete'
      : 'safety refusal';
  for (const d of plannedDeletes)
    lines.push(
      deleteLine(
        'delete',
        { workspace: splitKey(d.key).workspace, path: d.relPath, reason: d.reason },
        blockedBy,
      ),
    );
  summary.unchanged = works.reduce((n, w) => n + w.plan.unchanged, 0);

  const remoteIndex = new Map<string, Map<string, RemoteFile>>();
  for (const w of works)
    remoteIndex.set(w.name, new Map((remoteByWs.get(w.name) ?? []).map((r) => [r.relPath, r])));

  if (!uploads) {
    summary.uploaded = plannedUploads.length;
    summary.deleted = deletes.length;
    summary.bytes = plannedUploads.reduce((n, u) => n + u.file.size, 0);
    summary.seconds = (performance.now() - started) / 1000;
    return { summary, plan: lines, remote: remoteIndex };
  }

  // Upload (started above, workspace by workspace): wait for the last one.
  const uploaded = await uploads.finish(plannedUploads);

  // Delete.
  const outcome = await deleteObjects(
    ctx,
    deletes.map((d) => d.key),
  );
  summary.deleted = outcome.deleted.length;
  for (const f of outcome.failed)
    addFailure(summary, { ...splitKeyAsPath(f.key), code: f.code, message: f.message });
  for (const key of outcome.deleted) {
    const { workspace, relPath } = splitKey(key);
    remoteIndex.get(workspace)?.delete(relPath);
  }

  // Remember what is now in the bucket.
  for (const w of works) {
    const remote = remoteIndex.get(w.name) ?? new Map<string, RemoteFile>();
    const etags = new Map<string, string>();
    for (const file of w.walk.files) {
      const etag = uploaded.get(objectKey(w.name, file.relPath));
      if (etag === undefined) continue;
      etags.set(file.relPath, etag);
      remote.set(file.relPath, {
        key: objectKey(w.name, file.relPath),
        relPath: file.relPath,
        size: file.size,
        etag,
        lastModified: new Date(),
      });
    }
    const next = stateAfterPush({
      files: w.walk.files,
      previous: w.state,
      remote,
      uploaded: etags,
    });
    if (!sameState(w.loadedState, next)) await ctx.state.save(w.name, next);
  }

  summary.seconds = (performance.now() - started) / 1000;
  log.info(summaryLogFields(summary), 'sync finished');
  return { summary, plan: lines, remote: remoteIndex };
}

/** The workspaces a push covers: every local one, or the one asked for. */
async function workspacesToPush(ctx: SyncContext, only: string | undefined): Promise<string[]> {
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
 * Remote prefixes whose local directory is gone: kept (and said so) unless
 * --delete-missing-workspaces; returns their planned deletions. Refusals go
 * into the summary.
 */
function missingWorkspaces(
  ctx: SyncContext,
  options: RunOptions,
  names: readonly string[],
  remoteByWs: ReadonlyMap<string, RemoteFile[]>,
  summary: SyncSummary,
  lines: PlanLine[],
): PlannedDelete[] {
  const missing = [...remoteByWs.keys()].filter((ws) => !names.includes(ws)).sort();
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
        message: `workspace directory ${dir} does not exist; its ${objects} objects in the bucket are kept (pass --delete-missing-workspaces to remove them)`,
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
        reason: `${objects.length} objects kept: no local directory (pass --delete-missing-workspaces to remove)`,
      });
    }
  }
  if (options.only === undefined) {
    const refusal = missingWorkspacesRefusal({
      workspacesDir: ctx.workspacesDir,
      localWorkspaces: names.length,
      missingWorkspaces: missing.length,
      deletes: deletes.length,
    });
    if (refusal) summary.refusals.push(refusal);
  }
  return deletes;
}

/** Read one workspace's ignore rules, walk it, load what we remember of it; diff and ask the rails. */
async function planWorkspace(
  ctx: SyncContext,
  name: string,
  remotePromise: Promise<Map<string, RemoteFile[]>>,
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
  const remote = (await remotePromise).get(name) ?? [];
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
    const verdicts = await verifyByContent(plan.verify, Math.max(2, Math.min(ctx.concurrency, 8)));
    for (const { file, remote: r } of verdicts.same) state.set(file.relPath, stateOf(file, r.etag));
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

function splitKeyAsPath(key: string): { workspace: string; path: string } {
  const { workspace, relPath } = splitKey(key);
  return { workspace, path: relPath };
}

/**
 * The uploads of one push: a transfer queue that takes each workspace's
 * uploads as soon as it is planned, with a progress bar whose totals are
 * known only once every workspace is planned (ticks before then are held).
 */
class UploadRun {
  readonly #ctx: SyncContext;
  readonly #summary: SyncSummary;
  readonly #queue: TransferQueue<PlannedUpload>;
  readonly #etags = new Map<string, string>();
  readonly #bar: Pick<ProgressSink, 'start' | 'tick'>;

  constructor(ctx: SyncContext, summary: SyncSummary, log: Logger) {
    this.#ctx = ctx;
    this.#summary = summary;
    const bar = (this.#bar = heldProgress(ctx.progress));
    this.#queue = new TransferQueue<PlannedUpload>({
      concurrency: ctx.concurrency,
      signal: ctx.signal,
      run: async (u) => {
        let reported = 0;
        try {
          const etag = await uploadFile(ctx, u.file, u.key, (b) => {
            reported += b;
            bar.tick(0, b);
          });
          this.#etags.set(u.key, etag);
          summary.bytes += u.file.size;
          bar.tick(1, Math.max(0, u.file.size - reported));
          log.debug({ key: u.key, reason: u.reason, bytes: u.file.size }, 'uploaded');
        } catch (err) {
          bar.tick(1, 0);
          throw err;
        }
      },
    });
  }

  add(uploads: readonly PlannedUpload[]): void {
    this.#queue.add(uploads);
  }

  /**
   * Waits for the last upload (with every upload of the run, for the bar's
   * totals); outcomes go into the summary. Returns the ETag of each uploaded key.
   */
  async finish(all: readonly PlannedUpload[] = []): Promise<Map<string, string>> {
    this.#bar.start(
      'upload',
      all.length,
      all.reduce((n, u) => n + u.file.size, 0),
    );
    const outcome = await this.#queue.finish();
    this.#ctx.progress.stop();
    this.#summary.uploaded = outcome.ok.length;
    for (const f of outcome.failed) {
      const { workspace } = splitKey(f.item.key);
      if (f.error.code === 'LOCAL_NOT_FOUND') {
        addSkip(this.#summary, {
          workspace,
          path: f.item.file.relPath,
          reason: 'vanished',
          message: 'deleted before it could be uploaded',
        });
      } else {
        addFailure(this.#summary, {
          workspace,
          path: f.item.file.relPath,
          code: f.error.code,
          message: f.error.message,
        });
      }
    }
    return this.#etags;
  }
}

/** A progress sink that holds ticks until `start`, then passes them on. */
function heldProgress(sink: ProgressSink): Pick<ProgressSink, 'start' | 'tick'> {
  let started = false;
  let files = 0;
  let bytes = 0;
  return {
    start(label, totalFiles, totalBytes) {
      sink.start(label, totalFiles, totalBytes);
      started = true;
      if (files > 0 || bytes > 0) sink.tick(files, bytes);
    },
    tick(f, b) {
      if (started) sink.tick(f, b);
      else {
        files += f;
        bytes += b;
      }
    },
  };
}
