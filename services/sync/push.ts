import { objectKey, remoteWorkspaces, splitKey } from './object-keys.ts';
import { removeObjects } from './operations/remove.ts';
import { sameState, stateAfterPush } from './operations/state.ts';
import { deleteVerdict } from './rails.ts';
import { missingWorkspaces, planWorkspace, workspacesToPush } from './push-planning.ts';
import {
  addFailure,
  deleteLine,
  emptySummary,
  mergePlanning,
  noteUnservable,
  summaryLogFields,
} from './report.ts';
import type { RunOptions, SyncContext } from './sync-context.ts';
import type {
  PlanLine,
  PlannedDelete,
  Refusal,
  RemoteFile,
  StateEntry,
  SyncSummary,
} from './types.ts';
import { purgeTrash } from './trash/trash-purge.ts';
import { UploadRun } from './upload-run.ts';

export interface PushResult {
  summary: SyncSummary;
  /** What was planned: notes, kept workspaces, deletions, and (in a dry run) every upload. */
  plan: PlanLine[];
  /** Workspaces with an upload or a deletion planned (the monitor hook's list), sorted. */
  changed: string[];
  /**
   * Per workspace pushed: objects still in the bucket that the saved state
   * does not describe (kept deletions, files that could not be read). Watch
   * mode knows the bucket from the state plus these.
   */
  untracked: Map<string, Set<string>>;
}

/**
 * Workspaces planned and transferring at once. Each holds its walk, its
 * objects and its state only until its uploads are done and remembered:
 * a push's memory follows its largest workspaces, not the bucket.
 */
const WORKSPACES_AT_ONCE = 4;

/** What a push keeps of a workspace once its uploads are done. */
interface Pushed {
  part: SyncSummary;
  uploadLines: PlanLine[];
  deletes: PlannedDelete[];
  refusals: Refusal[];
  unchanged: number;
  uploads: number;
  /** Bytes planned for upload (a dry run's total). */
  bytes: number;
  untracked: Set<string>;
}

/**
 * Local -> bucket, workspace by workspace: the bucket's listing is streamed
 * and each workspace is planned as soon as the listing has passed it (walk,
 * diff, hash when needed), its uploads start at once, and once they are done
 * it is remembered (state) and let go of. Deletions happen after every
 * upload and only if no safety rail tripped anywhere in the run (or --force).
 */
export async function pushSync(ctx: SyncContext, options: RunOptions): Promise<PushResult> {
  const started = performance.now();
  const log = ctx.logger.child({ component: 'push' });
  const summary = emptySummary('push', options.dryRun);
  const lines: PlanLine[] = [];
  const names = await workspacesToPush(ctx, options.only);
  noteUnservable(summary, lines, names);

  const uploads = options.dryRun ? undefined : new UploadRun(ctx, summary, log);
  const pushed = new Map<string, Pushed>();
  /** Objects of prefixes with no local directory (kept, or deleted with --delete-missing-workspaces). */
  const remoteOnly = new Map<string, RemoteFile[]>();
  const running = new Set<Promise<void>>();
  let failure: { err: unknown } | undefined;
  const launch = async (name: string, remote: readonly RemoteFile[]): Promise<void> => {
    while (running.size >= WORKSPACES_AT_ONCE) await Promise.race(running);
    if (failure) return;
    const task = pushWorkspace(ctx, name, remote, uploads).then(
      (result) => void pushed.set(name, result),
      (err: unknown) => void (failure ??= { err }),
    );
    const tracked = task.finally(() => running.delete(tracked));
    running.add(tracked);
  };
  try {
    await ctx.store.ensureBucket(ctx.signal);
    const local = new Set(names);
    const prefix = options.only !== undefined ? `${options.only}/` : '';
    for await (const { workspace, objects } of remoteWorkspaces(
      ctx.store.listPages(prefix, ctx.signal),
    )) {
      if (failure) break;
      if (local.delete(workspace)) await launch(workspace, objects);
      else remoteOnly.set(workspace, objects);
    }
    for (const name of names) if (local.has(name) && !failure) await launch(name, []);
  } catch (err) {
    failure ??= { err };
  }
  await Promise.all(running);
  if (failure) {
    await uploads?.finish(); // never leave uploads running behind a failure
    throw failure.err;
  }

  const done = names.flatMap((name) => {
    const result = pushed.get(name);
    return result ? [{ name, ...result }] : [];
  });
  for (const w of done) mergePlanning(summary, w.part);
  summary.workspaces = names.length;

  const missing = missingWorkspaces(ctx, options, names, remoteOnly, summary, lines);
  const verdict = deleteVerdict([...summary.refusals, ...done.flatMap((w) => w.refusals)], options);
  summary.refusals = verdict.refusals;
  summary.overridden = verdict.overridden;
  for (const r of verdict.overridden)
    log.warn(
      { workspace: r.workspace, rule: r.rule },
      `--force overrides a safety refusal: ${r.message}`,
    );

  const plannedDeletes = [...done.flatMap((w) => w.deletes), ...missing];
  const deletes: PlannedDelete[] = verdict.blockedBy !== undefined ? [] : plannedDeletes;
  for (const w of done) lines.push(...w.uploadLines);
  for (const d of plannedDeletes)
    lines.push(
      deleteLine(
        'delete',
        { workspace: splitKey(d.key).workspace, path: d.relPath, reason: d.reason },
        verdict.blockedBy,
      ),
    );
  summary.unchanged = done.reduce((n, w) => n + w.unchanged, 0);
  const changed = [
    ...new Set([
      ...done.filter((w) => w.uploads > 0).map((w) => w.name),
      ...deletes.map((d) => splitKey(d.key).workspace),
    ]),
  ].sort();
  const untracked = new Map(done.map((w) => [w.name, w.untracked]));

  if (!uploads) {
    if (options.only === undefined && verdict.blockedBy === undefined)
      for (const e of (await purgeTrash(ctx, { dryRun: true })).expired)
        lines.push({
          action: 'purge',
          workspace: e.workspace,
          path: '',
          reason: `trash entry ${e.entry} (${e.objects.length} objects) is older than the trash retention`,
        });
    summary.uploaded = done.reduce((n, w) => n + w.uploads, 0);
    summary.bytes = done.reduce((n, w) => n + w.bytes, 0);
    summary.deleted = deletes.length;
    summary.seconds = (performance.now() - started) / 1000;
    return { summary, plan: lines, changed, untracked };
  }
  await uploads.finish();

  // Delete: into the trash (operations/remove.ts).
  const outcome = await removeObjects(ctx, deletes, ctx.clock.now());
  summary.deleted = outcome.deleted.length;
  summary.trashed = outcome.trashed;
  for (const f of outcome.failed)
    addFailure(summary, { ...splitKeyAsPath(f.key), code: f.code, message: f.message });
  for (const key of outcome.deleted) {
    const { workspace, relPath } = splitKey(key);
    untracked.get(workspace)?.delete(relPath);
  }

  // A full sync that deleted what it planned purges the trash of what is past its retention.
  if (options.only === undefined && verdict.blockedBy === undefined) {
    const purge = await purgeTrash(ctx, { dryRun: false });
    summary.purged = purge.expired.map((e) => ({
      workspace: e.workspace,
      entry: e.entry,
      objects: e.objects.length,
    }));
    for (const f of purge.failed)
      addFailure(summary, { ...splitKeyAsPath(f.key), code: f.code, message: f.message });
  }

  summary.seconds = (performance.now() - started) / 1000;
  log.info(summaryLogFields(summary), 'sync finished');
  return { summary, plan: lines, changed, untracked };
}

/**
 * One workspace: plan it, upload what changed (through the run's queue),
 * remember what is now in the bucket, and keep only what the end of the run
 * needs (its deletions, refusals and counts).
 */
async function pushWorkspace(
  ctx: SyncContext,
  name: string,
  remote: readonly RemoteFile[],
  uploads: UploadRun | undefined,
): Promise<Pushed> {
  const part = emptySummary('push', uploads === undefined);
  const work = await planWorkspace(ctx, name, remote, part);
  const pushed: Pushed = {
    part,
    uploadLines: [],
    deletes: work?.plan.deletes ?? [],
    refusals: work?.refusals ?? [],
    unchanged: work?.plan.unchanged ?? 0,
    uploads: work?.plan.uploads.length ?? 0,
    bytes: work?.plan.uploads.reduce((n, u) => n + u.file.size, 0) ?? 0,
    untracked: new Set(),
  };
  if (!work) return pushed;
  if (!uploads) {
    // A dry run: the plan is the output.
    for (const u of work.plan.uploads)
      pushed.uploadLines.push({
        action: 'upload',
        workspace: name,
        path: u.file.relPath,
        reason: u.reason,
        bytes: u.file.size,
      });
    return pushed;
  }

  const uploaded = await uploads.add(work.plan.uploads);
  // Remember what is now in the bucket.
  const inBucket = new Map<string, RemoteFile>();
  for (const r of remote) inBucket.set(r.relPath, r);
  for (const file of work.walk.files) {
    const etag = uploaded.get(file.relPath);
    if (etag === undefined) continue;
    inBucket.set(file.relPath, {
      key: objectKey(name, file.relPath),
      relPath: file.relPath,
      size: file.size,
      etag,
      lastModified: new Date(),
    });
  }
  const next: Map<string, StateEntry> = stateAfterPush({
    files: work.walk.files,
    previous: work.state,
    remote: inBucket,
    uploaded,
  });
  if (!sameState(work.loadedState, next)) await ctx.state.save(name, next);
  for (const relPath of inBucket.keys()) if (!next.has(relPath)) pushed.untracked.add(relPath);
  return pushed;
}

function splitKeyAsPath(key: string): { workspace: string; path: string } {
  const { workspace, relPath } = splitKey(key);
  return { workspace, path: relPath };
}
