import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BucketspaceError,
  errorMessage,
  isBucketspaceError,
  systemErrorCode,
} from '../common/errors.ts';
import { explainPath, WorkspaceFilter } from '../common/ignore/workspace-filter.ts';
import { localEtags } from '../common/multipart.ts';
import { walkWorkspace, type WalkedFile, type WalkResult } from '../common/walk.ts';
import { groupRemoteByWorkspace, objectKey, planPush } from './plan.ts';
import { describeMaxDelete, exceedsMaxDelete } from './safety.ts';
import type { ProgressSink } from './progress.ts';
import { formatRule, type RunOptions, type SyncContext } from './sync-context.ts';
import { TransferQueue } from './transfer-queue.ts';
import type {
  FailedFile,
  PlannedDelete,
  PlannedUpload,
  Refusal,
  RemoteFile,
  StateEntry,
  SyncSummary,
  WorkspacePlan,
} from './types.ts';
import { listLocalWorkspaces } from './workspaces.ts';
import pLimit from 'p-limit';

/** Small files are read into memory and sent with Content-MD5 so the server verifies them. */
const IN_MEMORY_LIMIT = 1024 * 1024;
const MAX_KEY_BYTES = 1024;

interface WorkspaceWork {
  name: string;
  root: string;
  plan: WorkspacePlan;
  walk: WalkResult;
  state: Map<string, StateEntry>;
  /** The state as loaded, to skip rewriting it when nothing changed. */
  loadedState: Map<string, StateEntry>;
  refusals: Refusal[];
}

function sameState(
  a: ReadonlyMap<string, StateEntry>,
  b: ReadonlyMap<string, StateEntry>,
): boolean {
  if (a.size !== b.size) return false;
  for (const [k, x] of a) {
    const y = b.get(k);
    if (
      !y ||
      x.size !== y.size ||
      x.mtimeMs !== y.mtimeMs ||
      x.ctimeMs !== y.ctimeMs ||
      x.ino !== y.ino ||
      x.etag !== y.etag
    ) {
      return false;
    }
  }
  return true;
}

export function emptySummary(direction: 'push' | 'pull', dryRun: boolean): SyncSummary {
  return {
    direction,
    dryRun,
    workspaces: 0,
    uploaded: 0,
    downloaded: 0,
    deleted: 0,
    unchanged: 0,
    skipped: 0,
    failed: 0,
    bytes: 0,
    seconds: 0,
    failures: [],
    skips: [],
    refusals: [],
    overridden: [],
    keptWorkspaces: [],
  };
}

/** The plan of a dry run, printed line by line. */
export interface PlanLine {
  action: 'upload' | 'delete' | 'download' | 'delete-local' | 'keep' | 'skip';
  workspace: string;
  path: string;
  reason: string;
  bytes?: number;
}

/** Workspaces whose objects a run uploaded or deleted, sorted. */
export function changedWorkspaces(plan: readonly PlanLine[]): string[] {
  return [
    ...new Set(
      plan.filter((l) => l.action === 'upload' || l.action === 'delete').map((l) => l.workspace),
    ),
  ].sort();
}

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

  let local;
  try {
    local = await listLocalWorkspaces(ctx.workspacesDir, log);
  } catch (err) {
    throw new BucketspaceError(
      'SAFETY_REFUSED',
      `refusing to sync: ${errorMessage(err)}. If the disk or mount is gone, nothing in the bucket was touched. Create the directory or set WORKSPACES_DIR.`,
      { cause: err },
    );
  }
  let names = local.names;
  if (options.only !== undefined) {
    validateWorkspaceName(options.only);
    names = names.filter((n) => n === options.only);
  }

  // The listing (waiting on the server) and the walks (local stats) run at the
  // same time. Each workspace is planned as soon as its walk and the listing
  // are done, and its uploads start at once while the next workspaces are
  // still walked. Deletions still wait for every plan and rail.
  const remotePromise = (async () => {
    await ctx.store.ensureBucket(ctx.signal);
    const objects = await ctx.store.list(
      options.only !== undefined ? `${options.only}/` : '',
      ctx.signal,
    );
    return groupRemoteByWorkspace(objects);
  })();
  remotePromise.catch(() => undefined); // awaited below; keeps an early failure from going unhandled

  const uploadedEtags = new Map<string, string>();
  const bar = heldProgress(ctx.progress);
  const queue = options.dryRun
    ? undefined
    : new TransferQueue<PlannedUpload>({
        concurrency: ctx.concurrency,
        signal: ctx.signal,
        run: async (u) => {
          let reported = 0;
          try {
            const etag = await uploadFile(ctx, u.file, u.key, (b) => {
              reported += b;
              bar.tick(0, b);
            });
            uploadedEtags.set(u.key, etag);
            summary.bytes += u.file.size;
            bar.tick(1, Math.max(0, u.file.size - reported));
            log.debug({ key: u.key, reason: u.reason, bytes: u.file.size }, 'uploaded');
          } catch (err) {
            bar.tick(1, 0);
            throw err;
          }
        },
      });

  const scanLimit = pLimit(4);
  let planned: { work: WorkspaceWork | undefined; part: SyncSummary }[];
  try {
    planned = await Promise.all(
      names.map((name) =>
        scanLimit(async () => {
          const scan = await scanWorkspace(ctx, name);
          const remote = (await remotePromise).get(name) ?? [];
          const part = emptySummary('push', options.dryRun);
          const work = await planWorkspace(ctx, scan, remote, part);
          if (work) queue?.add(work.plan.uploads);
          return { work, part };
        }),
      ),
    );
  } catch (err) {
    await queue?.finish(); // never leave uploads running behind a failure
    throw err;
  }
  const remoteByWs = await remotePromise;
  const works: WorkspaceWork[] = [];
  for (const { work, part } of planned) {
    if (work) works.push(work);
    mergePlanning(summary, part);
  }
  summary.workspaces = names.length;

  // Remote prefixes whose local directory is gone.
  const missing = [...remoteByWs.keys()].filter((ws) => !names.includes(ws)).sort();
  if (options.only !== undefined && names.length === 0) {
    const objects = remoteByWs.get(options.only)?.length ?? 0;
    if (objects === 0) {
      throw new BucketspaceError(
        'USAGE',
        `no workspace "${options.only}": ${join(ctx.workspacesDir, options.only)} does not exist and the bucket has nothing under ${options.only}/`,
      );
    }
    if (!ctx.deleteMissingWorkspaces) {
      summary.refusals.push({
        workspace: options.only,
        rule: 'workspace-dir',
        message: `workspace directory ${join(ctx.workspacesDir, options.only)} does not exist; its ${objects} objects in the bucket are kept (pass --delete-missing-workspaces to remove them)`,
        deletesWithheld: objects,
      });
    }
  }
  const missingDeletes: PlannedDelete[] = [];
  for (const ws of missing) {
    const objects = remoteByWs.get(ws) ?? [];
    if (ctx.deleteMissingWorkspaces) {
      for (const o of objects) {
        missingDeletes.push({
          relPath: o.relPath,
          key: o.key,
          size: o.size,
          reason: 'workspace directory removed',
        });
      }
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
  if (missingDeletes.length > 0 && names.length === 0 && options.only === undefined) {
    summary.refusals.push({
      workspace: '*',
      rule: 'workspaces-dir',
      message: `WORKSPACES_DIR ${ctx.workspacesDir} has no workspaces at all; refusing to delete ${missingDeletes.length} objects of ${missing.length} workspaces (is a disk or mount missing?)`,
      deletesWithheld: missingDeletes.length,
    });
  }

  const allRefusals = [...summary.refusals, ...works.flatMap((w) => w.refusals)];
  const deletesBlocked = options.noDelete || (allRefusals.length > 0 && !options.force);
  summary.refusals = options.force ? [] : allRefusals;
  summary.overridden = options.force ? allRefusals : [];
  if (options.force) {
    for (const r of allRefusals)
      log.warn(
        { workspace: r.workspace, rule: r.rule },
        `--force overrides a safety refusal: ${r.message}`,
      );
  }

  const uploads: PlannedUpload[] = works.flatMap((w) => w.plan.uploads);
  const deletes: PlannedDelete[] = deletesBlocked
    ? []
    : [...works.flatMap((w) => w.plan.deletes), ...missingDeletes];
  for (const u of uploads)
    lines.push({
      action: 'upload',
      workspace: workspaceOf(u.key),
      path: u.file.relPath,
      reason: u.reason,
      bytes: u.file.size,
    });
  for (const w of works) {
    for (const d of w.plan.deletes) {
      lines.push({
        action: deletesBlocked ? 'keep' : 'delete',
        workspace: w.name,
        path: d.relPath,
        reason: deletesBlocked
          ? `${d.reason}; not deleted (${options.noDelete ? '--no-delete' : 'safety refusal'})`
          : d.reason,
      });
    }
  }
  for (const d of missingDeletes) {
    lines.push({
      action: deletesBlocked ? 'keep' : 'delete',
      workspace: workspaceOf(d.key),
      path: d.relPath,
      reason: d.reason,
    });
  }
  summary.unchanged = works.reduce((n, w) => n + w.plan.unchanged, 0);

  const remoteIndex = new Map<string, Map<string, RemoteFile>>();
  for (const w of works) {
    remoteIndex.set(w.name, new Map((remoteByWs.get(w.name) ?? []).map((r) => [r.relPath, r])));
  }

  if (options.dryRun) {
    summary.uploaded = uploads.length;
    summary.deleted = deletes.length;
    summary.bytes = uploads.reduce((n, u) => n + u.file.size, 0);
    summary.seconds = (performance.now() - started) / 1000;
    return { summary, plan: lines, remote: remoteIndex };
  }

  // Upload (started above, workspace by workspace): wait for the last one.
  const totalBytes = uploads.reduce((n, u) => n + u.file.size, 0);
  bar.start('upload', uploads.length, totalBytes);
  const outcome = await (queue as TransferQueue<PlannedUpload>).finish();
  ctx.progress.stop();
  summary.uploaded = outcome.ok.length;
  for (const f of outcome.failed) {
    if (isVanished(f.error)) {
      summary.skipped += 1;
      summary.skips.push({
        workspace: workspaceOf(f.item.key),
        path: f.item.file.relPath,
        reason: 'vanished',
        message: 'deleted before it could be uploaded',
      });
      continue;
    }
    pushFailure(summary, workspaceOf(f.item.key), f.item.file.relPath, f.error);
  }

  // Delete.
  if (deletes.length > 0) {
    try {
      const res = await ctx.store.deleteMany(
        deletes.map((d) => d.key),
        ctx.signal,
      );
      summary.deleted = res.deleted.length;
      for (const f of res.failed) {
        summary.failed += 1;
        summary.failures.push({
          workspace: workspaceOf(f.key),
          path: f.key.slice(f.key.indexOf('/') + 1),
          code: f.code,
          message: `delete failed: ${f.message}`,
        });
      }
      for (const key of res.deleted)
        remoteIndex.get(workspaceOf(key))?.delete(key.slice(key.indexOf('/') + 1));
    } catch (err) {
      const e = isBucketspaceError(err)
        ? err
        : new BucketspaceError('INTERNAL', errorMessage(err), { cause: err });
      for (const d of deletes) pushFailure(summary, workspaceOf(d.key), d.relPath, e);
    }
  }

  // Remember what is now in the bucket.
  for (const w of works) {
    const next = new Map<string, StateEntry>();
    const remote = remoteIndex.get(w.name) ?? new Map<string, RemoteFile>();
    for (const file of w.walk.files) {
      const key = objectKey(w.name, file.relPath);
      const uploaded = uploadedEtags.get(key);
      const prev = w.state.get(file.relPath);
      const r = remote.get(file.relPath);
      if (uploaded !== undefined) {
        next.set(file.relPath, stateOf(file, uploaded));
        remote.set(file.relPath, {
          key,
          relPath: file.relPath,
          size: file.size,
          etag: uploaded,
          lastModified: new Date(),
        });
      } else if (prev && r && prev.etag === r.etag && r.size === file.size) {
        next.set(file.relPath, stateOf(file, prev.etag));
      }
    }
    if (!sameState(w.loadedState, next)) await ctx.state.save(w.name, next);
  }

  summary.seconds = (performance.now() - started) / 1000;
  log.info(
    {
      uploaded: summary.uploaded,
      deleted: summary.deleted,
      unchanged: summary.unchanged,
      failed: summary.failed,
      skipped: summary.skipped,
      bytes: summary.bytes,
      seconds: Number(summary.seconds.toFixed(3)),
    },
    'sync finished',
  );
  return { summary, plan: lines, remote: remoteIndex };
}

/** What planning one workspace added to its own summary, added to the run's. */
function mergePlanning(summary: SyncSummary, part: SyncSummary): void {
  summary.failed += part.failed;
  summary.skipped += part.skipped;
  summary.failures.push(...part.failures);
  summary.skips.push(...part.skips);
  summary.refusals.push(...part.refusals);
}

/**
 * A progress sink whose totals are known only once every workspace is
 * planned, while uploads already run: ticks before `start` are held, then
 * passed on.
 */
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

export function validateWorkspaceName(name: string): void {
  if (name === '' || name.includes('/') || name === '.' || name === '..' || name.startsWith('.')) {
    throw new BucketspaceError(
      'USAGE',
      `"${name}" is not a workspace name: use the name of a directory directly under WORKSPACES_DIR`,
    );
  }
}

function workspaceOf(key: string): string {
  return key.slice(0, key.indexOf('/'));
}

function isVanished(err: BucketspaceError): boolean {
  return err.code === 'LOCAL_NOT_FOUND';
}

function pushFailure(
  summary: SyncSummary,
  workspace: string,
  path: string,
  error: BucketspaceError,
): void {
  summary.failed += 1;
  const f: FailedFile = { workspace, path, code: error.code, message: error.message };
  summary.failures.push(f);
}

export function stateOf(file: WalkedFile, etag: string): StateEntry {
  return { size: file.size, mtimeMs: file.mtimeMs, ctimeMs: file.ctimeMs, ino: file.ino, etag };
}

type Scan =
  | {
      name: string;
      filter: WorkspaceFilter;
      walk: WalkResult;
      state: Map<string, StateEntry>;
      loadedState: Map<string, StateEntry>;
    }
  | { name: string; error: BucketspaceError };

/** Read one workspace's ignore rules, walk it, and load what we remember of it. */
async function scanWorkspace(ctx: SyncContext, name: string): Promise<Scan> {
  const root = join(ctx.workspacesDir, name);
  try {
    const filter = await WorkspaceFilter.load({ root, extraExcludes: ctx.extraExcludes });
    const walk = await walkWorkspace({ root, filter, signal: ctx.signal });
    const state = await ctx.state.load(name);
    return { name, filter, walk, state, loadedState: new Map(state) };
  } catch (err) {
    const error = isBucketspaceError(err)
      ? err
      : new BucketspaceError('INTERNAL', errorMessage(err), { cause: err });
    return { name, error };
  }
}

/** Diff one scanned workspace against its listing and check the rails. */
async function planWorkspace(
  ctx: SyncContext,
  scan: Scan,
  remote: RemoteFile[],
  summary: SyncSummary,
): Promise<WorkspaceWork | undefined> {
  const { name } = scan;
  const log = ctx.logger.child({ component: 'push', workspace: name });
  const root = join(ctx.workspacesDir, name);
  if ('error' in scan) {
    // Without the ignore rules we cannot know what is secret: upload nothing, delete nothing.
    log.error({ err: scan.error }, 'workspace not synced');
    pushFailure(summary, name, '', scan.error);
    summary.refusals.push({
      workspace: name,
      rule: 'walk-errors',
      message: `${name}: ${scan.error.message}; nothing uploaded or deleted in this workspace`,
      deletesWithheld: 0,
    });
    return undefined;
  }
  const { filter, walk, state, loadedState } = scan;
  for (const s of walk.skipped) {
    summary.skips.push({ workspace: name, path: s.relPath, reason: s.reason, message: s.message });
    if (s.reason === 'unreadable' || s.reason === 'invalid-name') {
      summary.failed += 1;
      summary.failures.push({
        workspace: name,
        path: s.relPath,
        code: s.reason === 'unreadable' ? 'LOCAL_UNREADABLE' : 'LOCAL_INVALID_NAME',
        message: s.message,
      });
    } else {
      summary.skipped += 1;
      log.info({ path: s.relPath, reason: s.reason }, s.message);
    }
  }
  for (const e of walk.errors) {
    summary.failed += 1;
    summary.failures.push({
      workspace: name,
      path: e.relPath,
      code: 'LOCAL_UNREADABLE',
      message: e.message,
    });
  }

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
    const limit = pLimit(Math.max(2, Math.min(ctx.concurrency, 8)));
    await Promise.all(
      plan.verify.map(({ file, remote: r }) =>
        limit(async () => {
          try {
            const etags = await localEtags(file.absPath, file.size, r.etag);
            if (etags.includes(r.etag)) {
              plan.unchanged += 1;
              state.set(file.relPath, stateOf(file, r.etag));
            } else {
              plan.uploads.push({ file, key: r.key, reason: 'content changed' });
            }
          } catch (err) {
            if (systemErrorCode(err) === 'ENOENT') return;
            plan.uploads.push({ file, key: r.key, reason: 'content changed' });
          }
        }),
      ),
    );
    plan.verify = [];
    log.debug({ hashed: plan.uploads.length }, 'verified same-size files by content');
  }

  // Safety rails.
  const refusals: Refusal[] = [];
  const nDeletes = plan.deletes.length;
  if (nDeletes > 0) {
    if (walk.errors.length > 0) {
      refusals.push({
        workspace: name,
        rule: 'walk-errors',
        message: `${name}: ${walk.errors.length} directories could not be read (${walk.errors[0]?.relPath}: ${walk.errors[0]?.message}); refusing to delete ${nDeletes} objects`,
        deletesWithheld: nDeletes,
      });
    }
    const seenAnything = walk.files.length + walk.skipped.length + walk.ignored.length > 0;
    if (!seenAnything) {
      refusals.push({
        workspace: name,
        rule: 'workspace-dir',
        message: `${name}: the workspace directory is empty; refusing to delete its ${nDeletes} objects (is a disk or mount missing?)`,
        deletesWithheld: nDeletes,
      });
    } else if (exceedsMaxDelete(nDeletes, plan.remoteCount, ctx.maxDelete)) {
      refusals.push({
        workspace: name,
        rule: 'max-delete',
        message: `${name}: ${nDeletes} of ${plan.remoteCount} objects would be deleted, more than ${describeMaxDelete(ctx.maxDelete)}`,
        deletesWithheld: nDeletes,
      });
    }
  }
  return { name, root, plan, walk, state, loadedState, refusals };
}

export async function uploadFile(
  ctx: SyncContext,
  file: WalkedFile,
  key: string,
  onProgress: (bytes: number) => void,
): Promise<string> {
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new BucketspaceError(
      'S3_KEY_TOO_LONG',
      `object key is ${Buffer.byteLength(key)} bytes; S3 allows at most ${MAX_KEY_BYTES}: shorten the path`,
      { details: { key } },
    );
  }
  const metadata: Record<string, string> = { mtime: (file.mtimeMs / 1000).toFixed(3) };
  if (file.mode !== undefined) metadata.mode = String(file.mode);
  if (file.size < IN_MEMORY_LIMIT) {
    let body: Buffer;
    try {
      // Small files: one synchronous read is far cheaper than four thread-pool round trips.
      body = readFileSync(file.absPath);
    } catch (err) {
      throw localErrorFor(err, file);
    }
    const md5Hex = createHash('md5').update(body).digest('hex');
    const res = await ctx.store.put({
      key,
      body,
      size: body.length,
      md5Hex,
      metadata,
      signal: ctx.signal,
      onProgress,
    });
    return res.etag || md5Hex;
  }
  const res = await ctx.store.put({
    key,
    filePath: file.absPath,
    size: file.size,
    metadata,
    signal: ctx.signal,
    onProgress,
  });
  return res.etag;
}

function localErrorFor(err: unknown, file: WalkedFile): BucketspaceError {
  const code = systemErrorCode(err);
  if (code === 'ENOENT')
    return new BucketspaceError('LOCAL_NOT_FOUND', `${file.relPath} vanished before upload`, {
      cause: err,
    });
  return new BucketspaceError(
    'LOCAL_UNREADABLE',
    `cannot read ${file.relPath}: ${code ?? errorMessage(err)}`,
    { cause: err },
  );
}
