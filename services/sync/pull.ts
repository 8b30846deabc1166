import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { asBucketspaceError, errorMessage, systemErrorCode } from '../common/errors.ts';
import { explainPath, isIgnoreFile, WorkspaceFilter } from '../common/ignore/workspace-filter.ts';
import { walkWorkspace, type WalkedFile, type WalkResult } from '../common/walk.ts';
import { groupRemoteByWorkspace } from './object-keys.ts';
import { LocalBackup } from './operations/backup.ts';
import { downloadFile, readObjectText } from './operations/download.ts';
import { stateOf } from './operations/state.ts';
import { verifyByContent } from './operations/verify.ts';
import { planPull } from './plan.ts';
import { deleteRefusals, deleteVerdict } from './rails.ts';
import {
  addFailure,
  addSkip,
  deleteLine,
  emptySummary,
  formatRule,
  summaryLogFields,
} from './report.ts';
import type { RunOptions, SyncContext } from './sync-context.ts';
import { runTransfers } from './transfer-queue.ts';
import type { PlanLine, Refusal, RemoteFile, StateEntry, SyncSummary } from './types.ts';

export { BACKUP_DIR_NAME } from './operations/backup.ts';

interface Download {
  workspace: string;
  remote: RemoteFile;
  reason: string;
}

/** One workspace, planned for a pull. */
interface PullWork {
  name: string;
  downloads: Download[];
  deletes: WalkedFile[];
  refusals: Refusal[];
  state: Map<string, StateEntry>;
}

/**
 * Bucket -> local: for rollback and for moving to a new machine. The filter is
 * built from the ignore files in the bucket (so `.env*` and the rest are never
 * written over local secrets), local files missing from the bucket are deleted
 * under the same safety rails as a push, and every local file that is replaced
 * or deleted is first moved to WORKSPACES_DIR/.bucketspace-backup/<time>/.
 */
export async function pullSync(
  ctx: SyncContext,
  options: RunOptions,
): Promise<{ summary: SyncSummary; plan: PlanLine[]; backupDir?: string }> {
  const started = performance.now();
  const log = ctx.logger.child({ component: 'pull' });
  const summary = emptySummary('pull', options.dryRun);
  const lines: PlanLine[] = [];
  const prefix = options.only !== undefined ? `${options.only}/` : '';
  const remoteByWs = groupRemoteByWorkspace(await ctx.store.list(prefix, ctx.signal));

  let names = [...remoteByWs.keys()].sort();
  if (options.only !== undefined) {
    names = names.filter((n) => n === options.only);
    if (names.length === 0) {
      summary.refusals.push({
        workspace: options.only,
        rule: 'remote-empty',
        message: `the bucket has nothing under ${options.only}/; refusing to pull (it would delete every local file of ${options.only})`,
        deletesWithheld: 0,
      });
      summary.seconds = (performance.now() - started) / 1000;
      return { summary, plan: lines };
    }
  }
  if (!options.dryRun) await mkdir(ctx.workspacesDir, { recursive: true });

  const works: PullWork[] = [];
  for (const name of names) {
    const work = await planWorkspace(ctx, name, remoteByWs.get(name) ?? [], summary, lines);
    if (work) works.push(work);
  }
  summary.workspaces = names.length;

  const verdict = deleteVerdict(
    works.flatMap((w) => w.refusals),
    options,
  );
  summary.refusals.push(...verdict.refusals);
  summary.overridden = verdict.overridden;
  const downloads = works.flatMap((w) => w.downloads);
  const deletes = verdict.blocked
    ? []
    : works.flatMap((w) => w.deletes.map((file) => ({ workspace: w.name, file })));
  for (const d of downloads)
    lines.push({
      action: 'download',
      workspace: d.workspace,
      path: d.remote.relPath,
      reason: d.reason,
      bytes: d.remote.size,
    });
  const blockedBy = !verdict.blocked
    ? undefined
    : options.noDelete
      ? '--no-delete'
      : 'safety refusal';
  for (const w of works)
    for (const f of w.deletes)
      lines.push(
        deleteLine(
          'delete-local',
          { workspace: w.name, path: f.relPath, reason: 'not in the bucket' },
          blockedBy,
        ),
      );
  if (options.dryRun) {
    summary.downloaded = downloads.length;
    summary.deleted = deletes.length;
    summary.bytes = downloads.reduce((n, d) => n + d.remote.size, 0);
    summary.seconds = (performance.now() - started) / 1000;
    return { summary, plan: lines };
  }

  const backup = new LocalBackup(ctx.workspacesDir, new Date());
  const byWs = new Map(works.map((w) => [w.name, w]));
  ctx.progress.start(
    'download',
    downloads.length,
    downloads.reduce((n, d) => n + d.remote.size, 0),
  );
  const outcome = await runTransfers({
    items: downloads,
    concurrency: ctx.concurrency,
    signal: ctx.signal,
    run: async (d) => {
      const work = byWs.get(d.workspace);
      try {
        const entry = await downloadFile(ctx, {
          root: join(ctx.workspacesDir, d.workspace),
          relPath: d.remote.relPath,
          key: d.remote.key,
          listedEtag: d.remote.etag,
          beforeReplace: (absPath) => backup.move(d.workspace, d.remote.relPath, absPath),
        });
        work?.state.set(d.remote.relPath, entry);
        summary.bytes += entry.size;
        ctx.progress.tick(1, entry.size);
      } catch (err) {
        ctx.progress.tick(1, 0);
        throw err;
      }
    },
  });
  ctx.progress.stop();
  summary.downloaded = outcome.ok.length;
  for (const f of outcome.failed)
    addFailure(summary, {
      workspace: f.item.workspace,
      path: f.item.remote.relPath,
      code: f.error.code,
      message: f.error.message,
    });
  for (const { workspace, file } of deletes) {
    try {
      await backup.move(workspace, file.relPath, file.absPath);
      byWs.get(workspace)?.state.delete(file.relPath);
      summary.deleted += 1;
    } catch (err) {
      addFailure(summary, {
        workspace,
        path: file.relPath,
        code: 'LOCAL_UNREADABLE',
        message: `could not remove: ${systemErrorCode(err) ?? errorMessage(err)}`,
      });
    }
  }
  for (const w of works) await ctx.state.save(w.name, w.state);
  summary.seconds = (performance.now() - started) / 1000;
  if (backup.moved > 0)
    log.info(
      { backupDir: backup.dir, files: backup.moved },
      'replaced and deleted local files were moved to the backup directory',
    );
  log.info(summaryLogFields(summary), 'pull finished');
  return { summary, plan: lines, ...(backup.moved > 0 ? { backupDir: backup.dir } : {}) };
}

/** The rules in the bucket, the local walk and state; the diff, hashing when needed, and the rails. */
async function planWorkspace(
  ctx: SyncContext,
  name: string,
  remote: RemoteFile[],
  summary: SyncSummary,
  lines: PlanLine[],
): Promise<PullWork | undefined> {
  const root = join(ctx.workspacesDir, name);
  let filter: WorkspaceFilter;
  let walk: WalkResult;
  try {
    filter = await remoteFilter(ctx, remote);
    const exists = await stat(root).then(
      (s) => s.isDirectory(),
      () => false,
    );
    walk = exists
      ? await walkWorkspace({ root, filter, signal: ctx.signal })
      : { files: [], skipped: [], ignored: [], errors: [] };
  } catch (err) {
    const e = asBucketspaceError(err);
    addFailure(summary, { workspace: name, path: '', code: e.code, message: e.message });
    summary.refusals.push({
      workspace: name,
      rule: 'walk-errors',
      message: `${name}: ${e.message}; nothing pulled into this workspace`,
      deletesWithheld: 0,
    });
    return undefined;
  }
  const state = await ctx.state.load(name);
  const plan = planPull({
    local: walk.files,
    remote,
    state,
    excluded: (relPath) => {
      const why = explainPath(filter, relPath, false);
      return why.ignored ? formatRule(why.rule) : undefined;
    },
  });
  for (const { remote: r, rule } of plan.excluded) {
    addSkip(summary, {
      workspace: name,
      path: r.relPath,
      reason: 'excluded',
      message: `in the bucket but excluded by ${rule}; not pulled`,
    });
    lines.push({ action: 'skip', workspace: name, path: r.relPath, reason: `excluded by ${rule}` });
  }
  summary.unchanged += plan.unchanged;
  const downloads: Download[] = plan.downloads.map((d) => ({ workspace: name, ...d }));
  const verdicts = await verifyByContent(plan.verify, 8);
  for (const { file, remote: r } of verdicts.same) state.set(file.relPath, stateOf(file, r.etag));
  summary.unchanged += verdicts.same.length;
  for (const { remote: r } of [...verdicts.changed, ...verdicts.vanished])
    downloads.push({ workspace: name, remote: r, reason: 'content differs' });
  downloads.sort((a, b) => (a.remote.relPath < b.remote.relPath ? -1 : 1));
  const refusals = deleteRefusals({
    workspace: name,
    target: 'local files',
    deletes: plan.deletes.length,
    total: walk.files.length,
    maxDelete: ctx.maxDelete,
    unreadable: { count: walk.errors.length, first: walk.errors[0] },
    ...(plan.included > 0
      ? {}
      : {
          empty: {
            rule: 'remote-empty',
            reason: 'nothing in the bucket is pulled into this workspace',
          },
        }),
  });
  return { name, downloads, deletes: plan.deletes, refusals, state };
}

/** The workspace's filter as the bucket has it: its ignore files, read from there. */
async function remoteFilter(
  ctx: SyncContext,
  remote: readonly RemoteFile[],
): Promise<WorkspaceFilter> {
  const files = new Map<string, string>();
  for (const r of remote.filter((o) => isIgnoreFile(o.relPath)))
    files.set(r.relPath, await readObjectText(ctx, r.key));
  return WorkspaceFilter.fromIgnoreFiles(files, { extraExcludes: ctx.extraExcludes });
}
