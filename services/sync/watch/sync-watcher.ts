import { lstat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { backoffDelay } from '../../common/backoff.ts';
import type { Clock } from '../../common/clock.ts';
import { asBucketspaceError, BucketspaceError } from '../../common/errors.ts';
import { isIgnoreFile, WorkspaceFilter } from '../../common/ignore/workspace-filter.ts';
import type { Logger } from '../../common/logger.ts';
import type { ChangeNotifier } from '../../common/monitor-client.ts';
import { restoreCommand } from '../../common/trash-names.ts';
import { isWorkspaceEntryName } from '../../common/workspace-name.ts';
import { pushSync, type PushResult } from '../push.ts';
import { UNSERVABLE } from '../report.ts';
import type { RunOptions, SyncContext } from '../sync-context.ts';
import { listLocalWorkspaces } from '../workspaces.ts';
import { ChangeBatcher } from './change-batcher.ts';
import { fsWatchEvents } from './fs-watch-events.ts';
import { DeleteWindow } from './delete-window.ts';
import type { FileEventKind, FileEvents, FileWatch } from './file-events.ts';
import { syncPaths, type WatchedWorkspace } from './targeted-sync.ts';

export interface SyncWatcherOptions {
  ctx: SyncContext;
  run: RunOptions;
  reconcileIntervalMs: number;
  debounceMs: number;
  shutdownTimeoutMs: number;
  clock?: Clock;
  /** File events (fs.watch, one watcher per directory, unless given). */
  events?: FileEvents;
  /** Told which workspaces changed after each batch that uploaded or deleted (the monitor hook). */
  notifier?: ChangeNotifier;
}

/** A batch larger than this is handled as a workspace reconcile (one walk) instead of path by path. */
const TARGETED_LIMIT = 500;
/** Watch mode's max-delete rail counts the deletions of this window together. */
const DELETE_WINDOW_MS = 60_000;

interface Watched extends WatchedWorkspace {
  watch: FileWatch | undefined;
}

interface BatchCounts {
  uploaded: number;
  deleted: number;
  failed: number;
}

/**
 * Watch mode: one full sync, then file events per workspace, coalesced into
 * batches (ChangeBatcher). Changed files are uploaded path by path
 * (targeted-sync); directory events, symlinks, ignore-file edits and very
 * large batches reconcile the workspace (walk + diff). A periodic full
 * reconcile catches missed events. When S3 is down the pending work is kept
 * and retried with backoff until it converges.
 */
export class SyncWatcher {
  private readonly options: SyncWatcherOptions;
  private readonly ctx: SyncContext;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly events: FileEvents;
  private readonly abort = new AbortController();
  private readonly workspaces = new Map<string, Watched>();
  private readonly batcher: ChangeBatcher;
  private rootWatch: FileWatch | undefined;
  private reconcileTimer: unknown;
  private retryTimer: unknown;
  private failures = 0;
  /** Workspaces already said to be unservable (said once per process). */
  private readonly announcedUnservable = new Set<string>();
  /** Workspaces already said to be kept without a local directory (said once per process). */
  private readonly announcedKept = new Set<string>();
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(options: SyncWatcherOptions) {
    this.options = options;
    this.clock = options.clock ?? options.ctx.clock;
    this.events = options.events ?? fsWatchEvents;
    // Transfers get their own signal: SIGTERM lets in-flight uploads finish (bounded by shutdownTimeoutMs).
    this.ctx = { ...options.ctx, signal: this.abort.signal, clock: this.clock };
    this.log = options.ctx.logger.child({ component: 'watch' });
    this.batcher = new ChangeBatcher({
      clock: this.clock,
      debounceMs: options.debounceMs,
      maxWaitMs: options.debounceMs * 10,
      targetedLimit: TARGETED_LIMIT,
      onReady: () => this.enqueue(),
    });
  }

  /**
   * Watches first, then the first full sync: an edit made while that sync
   * runs raises an event and is synced right after it (batches wait for the
   * sync, never run beside it).
   */
  async start(): Promise<void> {
    this.log.info({ dir: this.ctx.workspacesDir }, 'starting watch');
    try {
      const local = await listLocalWorkspaces(this.ctx.workspacesDir, this.log).catch(() => ({
        names: [] as string[],
      }));
      for (const name of local.names) await this.ensureWatch(name, undefined);
      this.rootWatch = await this.events.watch({
        root: this.ctx.workspacesDir,
        depth: 0,
        onEvent: (kind, path) => this.onRootEvent(kind, path),
        onError: (err) => this.log.error({ err }, 'watcher error on WORKSPACES_DIR'),
      });
      const initial = this.running.then(() => this.fullSync());
      this.running = initial.then(
        () => undefined,
        () => undefined,
      );
      this.notify((await initial).changed);
    } catch (err) {
      await this.closeWatches();
      throw err;
    }
    this.scheduleReconcile();
    this.log.info({ workspaces: [...this.workspaces.keys()] }, 'started watch');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.log.info('stopping watch');
    this.batcher.stop();
    for (const t of [this.reconcileTimer, this.retryTimer])
      if (t !== undefined) this.clock.clearTimeout(t);
    await this.closeWatches();
    let timer: unknown;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = this.clock.setTimeout(() => resolve('timeout'), this.options.shutdownTimeoutMs);
    });
    const result = await Promise.race([this.running.then(() => 'done' as const), timedOut]);
    this.clock.clearTimeout(timer);
    if (result === 'timeout') {
      this.log.warn(
        { timeoutMs: this.options.shutdownTimeoutMs },
        'in-flight transfers did not finish in time; aborting them (the next sync will redo them)',
      );
      this.abort.abort();
      await this.running;
    }
    this.log.info('stopped watch');
  }

  private async closeWatches(): Promise<void> {
    await this.rootWatch?.close();
    await Promise.all([...this.workspaces.values()].map(async (w) => w.watch?.close()));
  }

  // ---- events -------------------------------------------------------------

  private onRootEvent(kind: FileEventKind, path: string): void {
    if (kind !== 'addDir' && kind !== 'unlinkDir') return;
    const name = relative(this.ctx.workspacesDir, path);
    if (name.includes(sep) || !isWorkspaceEntryName(name)) return;
    this.log.info({ workspace: name }, 'workspace appeared or disappeared');
    if (!this.stopped) this.batcher.addReconcile(name);
  }

  private onWorkspaceEvent(ws: Watched, kind: FileEventKind, path: string): void {
    const rel = relative(ws.root, path).split(sep).join('/');
    if (rel === '' || this.stopped) return;
    if (isIgnoreFile(rel) || kind === 'addDir' || kind === 'unlinkDir')
      this.batcher.addReconcile(ws.name);
    else this.batcher.addPath(ws.name, rel);
  }

  private enqueue(): void {
    this.running = this.running.then(() => this.processBatch());
  }

  private scheduleReconcile(): void {
    if (this.stopped) return;
    this.reconcileTimer = this.clock.setTimeout(() => {
      this.batcher.addFull();
      this.scheduleReconcile();
    }, this.options.reconcileIntervalMs);
  }

  // ---- batches ------------------------------------------------------------

  private async processBatch(): Promise<void> {
    if (this.stopped && this.abort.signal.aborted) return;
    const batch = this.batcher.take();
    if (!batch) return;
    const changed = new Set<string>();
    const counts: BatchCounts = { uploaded: 0, deleted: 0, failed: 0 };
    const add = (name: string | undefined, r: BatchCounts) => {
      counts.uploaded += r.uploaded;
      counts.deleted += r.deleted;
      counts.failed += r.failed;
      if (name !== undefined && r.uploaded + r.deleted > 0) changed.add(name);
    };
    let retry = false;
    try {
      if (batch.full) {
        const r = await this.fullSync();
        add(undefined, r);
        for (const w of r.changed) changed.add(w);
      }
      for (const name of batch.reconcile) add(name, await this.reconcileWorkspace(name));
      for (const [name, paths] of batch.paths) {
        const ws = this.workspaces.get(name);
        if (!ws) continue;
        const r = await syncPaths(this.ctx, ws, [...paths], {
          run: this.options.run,
          clock: this.clock,
          log: this.log,
        });
        add(name, { uploaded: r.uploaded, deleted: r.deleted, failed: r.retry.length });
        if (r.reconcile) this.batcher.putBack({ reconcile: new Set([name]) });
        if (r.retry.length > 0) {
          retry = true;
          this.batcher.putBack({ paths: new Map([[name, new Set(r.retry)]]) });
        }
      }
    } catch (err) {
      retry = true;
      counts.failed += 1;
      this.batcher.putBack(batch); // keep the work: it is retried with backoff
      this.log.warn(
        { err: asBucketspaceError(err), attempt: this.failures + 1 },
        'sync batch failed; will retry',
      );
    }
    if (retry) this.scheduleRetry();
    else {
      if (this.failures > 0)
        this.log.info({ afterAttempts: this.failures }, 'caught up: all changes are in the bucket');
      this.failures = 0;
      if (this.batcher.pending) this.enqueue();
    }
    if (counts.uploaded + counts.deleted + counts.failed > 0)
      this.log.info({ workspaces: [...changed], ...counts }, 'batch synced');
    this.notify([...changed].sort());
  }

  private scheduleRetry(): void {
    const delay = backoffDelay(this.failures, { baseMs: 1000, maxMs: 30_000 });
    this.failures += 1;
    this.log.warn(
      { retryInMs: delay, attempt: this.failures },
      'changes not yet in the bucket; retrying',
    );
    if (this.stopped) return;
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.enqueue();
    }, delay);
  }

  /** Tell the monitor, without waiting: the next batch never waits on it. */
  private notify(workspaces: string[]): void {
    if (workspaces.length === 0 || !this.options.notifier) return;
    void this.options.notifier.notifyChanged(workspaces);
  }

  /** Full sync of every workspace; (re)starts watches to match the directories. */
  private async fullSync(): Promise<BatchCounts & { changed: string[] }> {
    const res = await pushSync(this.ctx, { ...this.options.run, only: undefined });
    const local = await listLocalWorkspaces(this.ctx.workspacesDir, this.log).catch(() => ({
      names: [] as string[],
    }));
    for (const name of local.names) {
      const watched = this.workspaces.get(name);
      const untracked = res.untracked.get(name);
      if (!watched) await this.ensureWatch(name, untracked);
      // What the bucket holds now beyond the saved state, for the targeted syncs that follow.
      else if (untracked) watched.untracked = untracked;
    }
    for (const name of [...this.workspaces.keys()])
      if (!local.names.includes(name)) await this.dropWatch(name);
    this.reportRun(res, 'files could not be uploaded');
    return { ...countsOf(res), changed: res.changed };
  }

  private async reconcileWorkspace(name: string): Promise<BatchCounts> {
    const exists = await lstat(join(this.ctx.workspacesDir, name)).then(
      (s) => s.isDirectory() || s.isSymbolicLink(),
      () => false,
    );
    if (!exists) {
      await this.dropWatch(name);
      // Judged with every other workspace (the rails: several gone at once): a full sync.
      this.log.info({ workspace: name }, 'workspace directory removed; a full sync follows');
      this.batcher.addFull();
      return { uploaded: 0, deleted: 0, failed: 0 };
    }
    // Ignore rules may have changed: rebuild the watch (newly included directories get
    // watched) BEFORE walking, and keep the old one until the new one is ready, so an edit
    // made at any moment is either seen by this walk or raises an event afterwards.
    await this.rewatch(name);
    const res = await pushSync(this.ctx, { ...this.options.run, only: name });
    const current = this.workspaces.get(name);
    if (current) current.untracked = res.untracked.get(name) ?? new Set<string>();
    this.reportRun(res, `files of ${name} could not be uploaded`);
    return countsOf(res);
  }

  /** Refusals and failures of a push into the log; throws (to retry) when S3 was the problem. */
  private reportRun(res: PushResult, what: string): void {
    for (const u of res.summary.unservable) {
      if (this.announcedUnservable.has(u.workspace)) continue;
      this.announcedUnservable.add(u.workspace);
      this.log.warn(
        { workspace: u.workspace, reason: u.reason },
        `${u.workspace}: ${UNSERVABLE}: ${u.reason}`,
      );
    }
    for (const r of res.summary.refusals)
      this.log.error({ workspace: r.workspace, rule: r.rule }, `refused: ${r.message}`);
    for (const w of res.summary.keptWorkspaces) {
      if (this.announcedKept.has(w)) continue;
      this.announcedKept.add(w);
      this.log.warn(
        { workspace: w },
        'workspace directory removed; its objects stay in the bucket (SYNC_DELETE_MISSING_WORKSPACES=false)',
      );
    }
    for (const t of res.summary.trashed)
      this.log.info(
        { workspace: t.workspace, entry: t.entry, objects: t.objects },
        `moved to the trash; restore: ${restoreCommand(t.workspace, t.entry)}`,
      );
    for (const f of res.summary.failures)
      this.log.warn({ workspace: f.workspace, path: f.path, code: f.code }, f.message);
    if (res.summary.failures.some((f) => RETRIED_CODES.has(f.code)))
      throw new BucketspaceError('S3_UNREACHABLE', `${res.summary.failed} ${what}`, {
        retryable: true,
      });
  }

  private async ensureWatch(name: string, untracked: Set<string> | undefined): Promise<void> {
    if (this.workspaces.has(name) || this.stopped) return;
    const root = join(this.ctx.workspacesDir, name);
    let filter: WorkspaceFilter;
    try {
      filter = await WorkspaceFilter.load({ root, extraExcludes: this.ctx.extraExcludes });
    } catch (err) {
      this.log.error(
        { err: asBucketspaceError(err), workspace: name },
        'cannot read the ignore rules; workspace not watched',
      );
      return;
    }
    const ws: Watched = {
      name,
      root,
      filter,
      watch: undefined,
      untracked: untracked ?? new Set<string>(),
      deletes: new DeleteWindow(DELETE_WINDOW_MS),
    };
    this.workspaces.set(name, ws);
    ws.watch = await this.events.watch({
      root,
      ignored: (path, isDirectory) => isExcluded(ws, path, isDirectory),
      onEvent: (kind, path) => this.onWorkspaceEvent(ws, kind, path),
      onError: (err) => this.log.error({ err, workspace: name }, 'watcher error'),
    });
    this.log.debug({ workspace: name }, 'watching workspace');
  }

  /** Replace a workspace's watch; the old one keeps reporting until the new one is ready. */
  private async rewatch(name: string): Promise<void> {
    const old = this.workspaces.get(name);
    this.workspaces.delete(name);
    await this.ensureWatch(name, old?.untracked);
    const current = this.workspaces.get(name);
    if (old && current) current.deletes = old.deletes;
    await old?.watch?.close();
  }

  private async dropWatch(name: string): Promise<void> {
    const ws = this.workspaces.get(name);
    if (!ws) return;
    this.workspaces.delete(name);
    await ws.watch?.close();
  }
}

/** Push failures that mean S3 (not a file) is the problem: the batch is retried. */
const RETRIED_CODES = new Set(['S3_UNREACHABLE', 'S3_THROTTLED', 'S3_SERVER']);

function countsOf(res: PushResult): BatchCounts {
  return {
    uploaded: res.summary.uploaded,
    deleted: res.summary.deleted,
    failed: res.summary.failed,
  };
}

/** The file watch's `ignored`: excluded directories are never watched (their contents cost nothing). */
function isExcluded(ws: WatchedWorkspace, path: string, isDirectory: boolean | undefined): boolean {
  const rel = relative(ws.root, path).split(sep).join('/');
  if (rel === '' || rel.startsWith('..')) return false;
  const parts = rel.split('/');
  for (let i = 1; i < parts.length; i++) {
    if (ws.filter.isIgnored(parts.slice(0, i).join('/'), true)) return true;
  }
  return ws.filter.isIgnored(rel, isDirectory === true);
}
