import pLimit from 'p-limit';
import { objectKey, groupRemoteByWorkspace, splitKey } from './object-keys.ts';
import { removeObjects } from './operations/remove.ts';
import { sameState, stateAfterPush } from './operations/state.ts';
import { deleteVerdict } from './rails.ts';
import {
  missingWorkspaces,
  planWorkspace,
  workspacesToPush,
  type WorkspaceWork,
} from './push-planning.ts';
import {
  addFailure,
  deleteLine,
  emptySummary,
  mergePlanning,
  noteUnservable,
  summaryLogFields,
} from './report.ts';
import type { RunOptions, SyncContext } from './sync-context.ts';
import type { PlanLine, PlannedDelete, PlannedUpload, RemoteFile, SyncSummary } from './types.ts';
import { purgeTrash } from './trash/trash-purge.ts';
import { UploadRun } from './upload-run.ts';

export interface PushResult {
  summary: SyncSummary;
  plan: PlanLine[];
  /** Remote index after the run, per workspace (for watch mode). */
  remote: Map<string, Map<string, RemoteFile>>;
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
  noteUnservable(summary, lines, names);

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
  const deletes: PlannedDelete[] = verdict.blockedBy !== undefined ? [] : plannedDeletes;
  for (const u of plannedUploads)
    lines.push({
      action: 'upload',
      workspace: splitKey(u.key).workspace,
      path: u.file.relPath,
      reason: u.reason,
      bytes: u.file.size,
    });
  for (const d of plannedDeletes)
    lines.push(
      deleteLine(
        'delete',
        { workspace: splitKey(d.key).workspace, path: d.relPath, reason: d.reason },
        verdict.blockedBy,
      ),
    );
  summary.unchanged = works.reduce((n, w) => n + w.plan.unchanged, 0);

  const remoteIndex = new Map<string, Map<string, RemoteFile>>();
  for (const w of works)
    remoteIndex.set(w.name, new Map((remoteByWs.get(w.name) ?? []).map((r) => [r.relPath, r])));

  if (!uploads) {
    if (options.only === undefined && verdict.blockedBy === undefined)
      for (const e of (await purgeTrash(ctx, { dryRun: true })).expired)
        lines.push({
          action: 'purge',
          workspace: e.workspace,
          path: '',
          reason: `trash entry ${e.entry} (${e.objects.length} objects) is older than the trash retention`,
        });
    summary.uploaded = plannedUploads.length;
    summary.deleted = deletes.length;
    summary.bytes = plannedUploads.reduce((n, u) => n + u.file.size, 0);
    summary.seconds = (performance.now() - started) / 1000;
    return { summary, plan: lines, remote: remoteIndex };
  }

  // Upload (started above, workspace by workspace): wait for the last one.
  const uploaded = await uploads.finish(plannedUploads);

  // Delete: into the trash (operations/remove.ts).
  const outcome = await removeObjects(ctx, deletes, ctx.clock.now());
  summary.deleted = outcome.deleted.length;
  summary.trashed = outcome.trashed;
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
  return { summary, plan: lines, remote: remoteIndex };
}

function splitKeyAsPath(key: string): { workspace: string; path: string } {
  const { workspace, relPath } = splitKey(key);
  return { workspace, path: relPath };
}
