import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, systemErrorCode } from '../common/errors.ts';
import { groupRemoteByWorkspace } from './object-keys.ts';
import { LocalBackup } from './operations/backup.ts';
import { downloadFile, newDirectoryChecks } from './operations/download.ts';
import { planWorkspace, withoutUnsafeKeys, type PullWork } from './pull-planning.ts';
import { deleteVerdict } from './rails.ts';
import { addFailure, deleteLine, emptySummary, summaryLogFields } from './report.ts';
import type { RunOptions, SyncContext } from './sync-context.ts';
import { runTransfers } from './transfer-queue.ts';
import type { PlanLine, SyncSummary } from './types.ts';

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
  const remoteByWs = withoutUnsafeKeys(
    groupRemoteByWorkspace(await ctx.store.list(prefix, ctx.signal)),
    summary,
    lines,
  );

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
  const deletes =
    verdict.blockedBy !== undefined
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
  for (const w of works)
    for (const f of w.deletes)
      lines.push(
        deleteLine(
          'delete-local',
          { workspace: w.name, path: f.relPath, reason: 'not in the bucket' },
          verdict.blockedBy,
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
  const checkedDirs = new Map(works.map((w) => [w.name, newDirectoryChecks()]));
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
          listedSize: d.remote.size,
          checkedDirs: checkedDirs.get(d.workspace),
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
