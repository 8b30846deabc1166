import { createWriteStream } from 'node:fs';
import { chmod, lstat, mkdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import {
  BucketspaceError,
  errorMessage,
  isBucketspaceError,
  systemErrorCode,
} from '../common/errors.ts';
import { DEFAULT_EXCLUDES } from '../common/ignore/default-excludes.ts';
import { explainPath, WorkspaceFilter } from '../common/ignore/workspace-filter.ts';
import { localEtags } from '../common/multipart.ts';
import { walkWorkspace, type WalkedFile, type WalkResult } from '../common/walk.ts';
import { groupRemoteByWorkspace, stateMatches } from './plan.ts';
import { emptySummary, stateOf, type PlanLine } from './push.ts';
import { describeMaxDelete, exceedsMaxDelete } from './safety.ts';
import { formatRule, type RunOptions, type SyncContext } from './sync-context.ts';
import { runTransfers } from './transfer-queue.ts';
import type { Refusal, RemoteFile, StateEntry, SyncSummary } from './types.ts';

export const BACKUP_DIR_NAME = '.bucketspace-backup';

interface Download {
  workspace: string;
  remote: RemoteFile;
  reason: string;
}
interface LocalDelete {
  workspace: string;
  file: WalkedFile;
}
interface PullWork {
  name: string;
  root: string;
  downloads: Download[];
  deletes: LocalDelete[];
  refusals: Refusal[];
  state: Map<string, StateEntry>;
  walk: WalkResult;
}

function isIgnoreFileKey(relPath: string): boolean {
  return (
    relPath === '.dockerignore' ||
    relPath === '.syncignore' ||
    relPath === '.gitignore' ||
    relPath.endsWith('/.gitignore')
  );
}

async function fetchText(ctx: SyncContext, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  const { Writable } = await import('node:stream');
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  await ctx.store.get({ key, writeTo: sink, signal: ctx.signal });
  return Buffer.concat(chunks).toString('utf8');
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
    const work = await planPullWorkspace(ctx, name, remoteByWs.get(name) ?? [], summary, lines);
    if (work) works.push(work);
  }
  summary.workspaces = names.length;

  const allRefusals = works.flatMap((w) => w.refusals);
  const deletesBlocked = options.noDelete || (allRefusals.length > 0 && !options.force);
  summary.refusals.push(...(options.force ? [] : allRefusals));
  summary.overridden = options.force ? allRefusals : [];
  const downloads = works.flatMap((w) => w.downloads);
  const deletes = deletesBlocked ? [] : works.flatMap((w) => w.deletes);
  for (const d of downloads)
    lines.push({
      action: 'download',
      workspace: d.workspace,
      path: d.remote.relPath,
      reason: d.reason,
      bytes: d.remote.size,
    });
  for (const w of works) {
    for (const d of w.deletes) {
      lines.push({
        action: deletesBlocked ? 'keep' : 'delete-local',
        workspace: w.name,
        path: d.file.relPath,
        reason: deletesBlocked
          ? 'not in the bucket; kept (safety refusal or --no-delete)'
          : 'not in the bucket',
      });
    }
  }
  if (options.dryRun) {
    summary.downloaded = downloads.length;
    summary.deleted = deletes.length;
    summary.bytes = downloads.reduce((n, d) => n + d.remote.size, 0);
    summary.seconds = (performance.now() - started) / 1000;
    return { summary, plan: lines };
  }

  const backupRoot = join(
    ctx.workspacesDir,
    BACKUP_DIR_NAME,
    new Date().toISOString().replace(/[:.]/g, '-'),
  );
  let backedUp = 0;
  const backup = async (workspace: string, relPath: string) => {
    const from = join(ctx.workspacesDir, workspace, relPath);
    const to = join(backupRoot, workspace, relPath);
    await mkdir(dirname(to), { recursive: true });
    await rename(from, to);
    backedUp += 1;
  };

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
      const target = join(ctx.workspacesDir, d.workspace, d.remote.relPath);
      await mkdir(dirname(target), { recursive: true }).catch((err: unknown) => {
        throw new BucketspaceError(
          'LOCAL_UNREADABLE',
          `cannot create the directory for ${d.remote.relPath}: ${systemErrorCode(err) ?? errorMessage(err)} (a file may be in the way)`,
          { cause: err },
        );
      });
      const tmp = join(dirname(target), `.${randomBytes(6).toString('hex')}.bucketspace-tmp`);
      try {
        const res = await ctx.store.get({
          key: d.remote.key,
          writeTo: createWriteStream(tmp),
          signal: ctx.signal,
        });
        const existing = await lstat(target).catch(() => undefined);
        if (existing?.isDirectory()) {
          throw new BucketspaceError(
            'LOCAL_UNREADABLE',
            `${d.remote.relPath} is a directory locally but a file in the bucket; left as it is`,
          );
        }
        if (existing) await backup(d.workspace, d.remote.relPath);
        await rename(tmp, target);
        const mode = Number(res.metadata.mode);
        if (Number.isInteger(mode) && mode > 0) await chmod(target, mode & 0o777);
        const mtime = Number(res.metadata.mtime);
        if (Number.isFinite(mtime) && mtime > 0)
          await utimes(target, new Date(), new Date(mtime * 1000));
        const st = await stat(target);
        work?.state.set(d.remote.relPath, {
          size: st.size,
          mtimeMs: st.mtimeMs,
          ctimeMs: st.ctimeMs,
          ino: st.ino,
          etag: res.etag || d.remote.etag,
        });
        summary.bytes += st.size;
        ctx.progress.tick(1, st.size);
      } catch (err) {
        await rm(tmp, { force: true });
        ctx.progress.tick(1, 0);
        throw err;
      }
    },
  });
  ctx.progress.stop();
  summary.downloaded = outcome.ok.length;
  for (const f of outcome.failed) {
    summary.failed += 1;
    summary.failures.push({
      workspace: f.item.workspace,
      path: f.item.remote.relPath,
      code: f.error.code,
      message: f.error.message,
    });
  }
  for (const d of deletes) {
    try {
      await backup(d.workspace, d.file.relPath);
      byWs.get(d.workspace)?.state.delete(d.file.relPath);
      summary.deleted += 1;
    } catch (err) {
      summary.failed += 1;
      summary.failures.push({
        workspace: d.workspace,
        path: d.file.relPath,
        code: 'LOCAL_UNREADABLE',
        message: `could not remove: ${systemErrorCode(err) ?? errorMessage(err)}`,
      });
    }
  }
  for (const w of works) await ctx.state.save(w.name, w.state);
  summary.seconds = (performance.now() - started) / 1000;
  if (backedUp > 0)
    log.info(
      { backupDir: backupRoot, files: backedUp },
      'replaced and deleted local files were moved to the backup directory',
    );
  log.info(
    {
      downloaded: summary.downloaded,
      deleted: summary.deleted,
      unchanged: summary.unchanged,
      failed: summary.failed,
    },
    'pull finished',
  );
  return { summary, plan: lines, ...(backedUp > 0 ? { backupDir: backupRoot } : {}) };
}

async function planPullWorkspace(
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
    const gitignores: Record<string, string> = {};
    let dockerignore: string | undefined;
    let syncignore: string | undefined;
    for (const r of remote.filter((o) => isIgnoreFileKey(o.relPath))) {
      const text = await fetchText(ctx, r.key);
      if (r.relPath === '.dockerignore') dockerignore = text;
      else if (r.relPath === '.syncignore') syncignore = text;
      else
        gitignores[r.relPath === '.gitignore' ? '' : r.relPath.slice(0, -'/.gitignore'.length)] =
          text;
    }
    filter = WorkspaceFilter.fromRules({
      defaults: DEFAULT_EXCLUDES,
      gitignores,
      dockerignore,
      syncignore,
      extraExcludes: ctx.extraExcludes,
    });
    const exists = await stat(root).then(
      (s) => s.isDirectory(),
      () => false,
    );
    walk = exists
      ? await walkWorkspace({ root, filter, signal: ctx.signal })
      : { files: [], skipped: [], ignored: [], errors: [] };
  } catch (err) {
    const e = isBucketspaceError(err)
      ? err
      : new BucketspaceError('INTERNAL', errorMessage(err), { cause: err });
    summary.failed += 1;
    summary.failures.push({ workspace: name, path: '', code: e.code, message: e.message });
    summary.refusals.push({
      workspace: name,
      rule: 'walk-errors',
      message: `${name}: ${e.message}; nothing pulled into this workspace`,
      deletesWithheld: 0,
    });
    return undefined;
  }
  const state = await ctx.state.load(name);
  const localByPath = new Map(walk.files.map((f) => [f.relPath, f]));
  const downloads: Download[] = [];
  const remoteIncluded = new Set<string>();
  const verify: { file: WalkedFile; remote: RemoteFile }[] = [];
  for (const r of remote) {
    const why = explainPath(filter, r.relPath, false);
    if (why.ignored) {
      summary.skipped += 1;
      summary.skips.push({
        workspace: name,
        path: r.relPath,
        reason: 'excluded',
        message: `in the bucket but excluded by ${formatRule(why.rule)}; not pulled`,
      });
      lines.push({
        action: 'skip',
        workspace: name,
        path: r.relPath,
        reason: `excluded by ${formatRule(why.rule)}`,
      });
      continue;
    }
    remoteIncluded.add(r.relPath);
    const local = localByPath.get(r.relPath);
    if (!local) downloads.push({ workspace: name, remote: r, reason: 'not present locally' });
    else if (local.size !== r.size)
      downloads.push({ workspace: name, remote: r, reason: 'size differs' });
    else if (stateMatches(state.get(r.relPath), local, r)) summary.unchanged += 1;
    else verify.push({ file: local, remote: r });
  }
  const limit = pLimit(8);
  await Promise.all(
    verify.map(({ file, remote: r }) =>
      limit(async () => {
        const etags = await localEtags(file.absPath, file.size, r.etag).catch(() => [] as string[]);
        if (etags.includes(r.etag)) {
          summary.unchanged += 1;
          state.set(file.relPath, stateOf(file, r.etag));
        } else downloads.push({ workspace: name, remote: r, reason: 'content differs' });
      }),
    ),
  );
  const deletes: LocalDelete[] = walk.files
    .filter((f) => !remoteIncluded.has(f.relPath))
    .map((file) => ({ workspace: name, file }));
  const refusals: Refusal[] = [];
  if (deletes.length > 0) {
    if (walk.errors.length > 0) {
      refusals.push({
        workspace: name,
        rule: 'walk-errors',
        message: `${name}: ${walk.errors.length} local directories could not be read; refusing to delete ${deletes.length} local files`,
        deletesWithheld: deletes.length,
      });
    } else if (exceedsMaxDelete(deletes.length, walk.files.length, ctx.maxDelete)) {
      refusals.push({
        workspace: name,
        rule: 'max-delete',
        message: `${name}: ${deletes.length} of ${walk.files.length} local files are not in the bucket and would be deleted, more than ${describeMaxDelete(ctx.maxDelete)}`,
        deletesWithheld: deletes.length,
      });
    }
  }
  downloads.sort((a, b) => (a.remote.relPath < b.remote.relPath ? -1 : 1));
  return { name, root, downloads, deletes, refusals, state, walk };
}
