import { lstat, readdir } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { backoffDelay } from '../common/backoff.ts';
import { systemClock, type Clock } from '../common/clock.ts';
import {
  BucketspaceError,
  errorMessage,
  isBucketspaceError,
  systemErrorCode,
} from '../common/errors.ts';
import { WorkspaceFilter } from '../common/ignore/workspace-filter.ts';
import type { Logger } from '../common/logger.ts';
import type { ChangeNotifier } from '../common/monitor-client.ts';
import type { WalkedFile } from '../common/walk.ts';
import { objectKey } from './plan.ts';
import { changedWorkspaces, pushSync, stateOf, uploadFile } from './push.ts';
import { exceedsMaxDelete } from './safety.ts';
import type { RunOptions, SyncContext } from './sync-context.ts';
import type { RemoteFile, StateEntry } from './types.ts';
import { listLocalWorkspaces } from './workspaces.ts';

export interface SyncWatcherOptions {
  ctx: SyncContext;
  run: RunOptions;
  reconcileIntervalMs: number;
  debounceMs: number;
  shutdownTimeoutMs: number;
  clock?: Clock;
  /** Told which workspaces changed after each batch that uploaded or deleted (the monitor hook). */
  notifier?: ChangeNotifier;
}

/** A batch larger than this is handled as a workspace reconcile (one walk) instead of path by path. */
const TARGETED_LIMIT = 500;

interface WorkspaceWatch {
  name: string;
  root: string;
  filter: WorkspaceFilter;
  watcher: FSWatcher;
  remote: Map<string, RemoteFile>;
  state: Map<string, StateEntry>;
  /** Deletions made in the last DELETE_WINDOW_MS: when, and how many. */
  recentDeletes: Array<{ at: number; count: number }>;
}

/**
 * Watch mode applies the max-delete rail to the deletions of this window
 * together, not batch by batch: files that vanish one by one (a slow `rm`, a
 * tool emptying a tree file by file) are still a mass deletion.
 */
const DELETE_WINDOW_MS = 60_000;

/**
 * Watch mode: one full sync, then chokidar events per workspace, coalesced
 * into batches (a `git checkout` of 500 files is one batch). Changed files are
 * uploaded path by path; directory events, symlinks, ignore-file edits and
 * very large batches reconcile the workspace (walk + diff). A periodic full
 * reconcile catches missed events. When S3 is down the pending work is kept
 * and retried with backoff until it converges.
 */
export class SyncWatcher {
  private readonly options: SyncWatcherOptions;
  private readonly ctx: SyncContext;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly abort = new AbortController();
  private readonly workspaces = new Map<string, WorkspaceWatch>();
  private rootWatcher: FSWatcher | undefined;
  private readonly pendingPaths = new Map<string, Set<string>>();
  private readonly pendingReconcile = new Set<string>();
  private pendingFull = false;
  private firstPendingAt: number | undefined;
  private debounceTimer: unknown;
  private reconcileTimer: unknown;
  private retryTimer: unknown;
  private failures = 0;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(options: SyncWatcherOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    // Transfers get their own signal: SIGTERM lets in-flight uploads finish (bounded by shutdownTimeoutMs).
    this.ctx = { ...options.ctx, signal: this.abort.signal };
    this.log = options.ctx.logger.child({ component: 'watch' });
  }

  async start(): Promise<void> {
    this.log.info({ dir: this.ctx.workspacesDir }, 'starting watch');
    const initial = await this.fullSync();
    this.notify(initial.changed);
    this.rootWatcher = watch(this.ctx.workspacesDir, {
      depth: 0,
      ignoreInitial: true,
      followSymlinks: false,
    });
    this.rootWatcher.on('addDir', (p) => this.onRootEvent(p));
    this.rootWatcher.on('unlinkDir', (p) => this.onRootEvent(p));
    this.rootWatcher.on('error', (err) =>
      this.log.error({ err }, 'watcher error on WORKSPACES_DIR'),
    );
    await new Promise<void>((resolve) => this.rootWatcher?.once('ready', () => resolve()));
    this.scheduleReconcile();
    this.log.info({ workspaces: [...this.workspaces.keys()] }, 'started watch');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.log.info('stopping watch');
    for (const t of [this.debounceTimer, this.reconcileTimer, this.retryTimer])
      if (t !== undefined) this.clock.clearTimeout(t);
    await this.rootWatcher?.close();
    await Promise.all([...this.workspaces.values()].map((w) => w.watcher.close()));
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

  // ---- events -------------------------------------------------------------

  private onRootEvent(path: string): void {
    const name = relative(this.ctx.workspacesDir, path);
    if (name === '' || name.includes(sep) || name.startsWith('.')) return;
    this.log.info({ workspace: name }, 'workspace appeared or disappeared');
    this.pendingReconcile.add(name);
    this.kick();
  }

  private onWorkspaceEvent(ws: WorkspaceWatch, event: string, path: string): void {
    const rel = relative(ws.root, path).split(sep).join('/');
    if (rel === '') return;
    const name = basename(rel);
    if (
      name === '.gitignore' ||
      rel === '.dockerignore' ||
      rel === '.syncignore' ||
      event === 'addDir' ||
      event === 'unlinkDir'
    ) {
      this.pendingReconcile.add(ws.name);
    } else {
      let set = this.pendingPaths.get(ws.name);
      if (!set) this.pendingPaths.set(ws.name, (set = new Set()));
      set.add(rel);
    }
    this.kick();
  }

  private kick(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    this.firstPendingAt ??= now;
    if (this.debounceTimer !== undefined) this.clock.clearTimeout(this.debounceTimer);
    const maxWait = this.options.debounceMs * 10;
    const wait = Math.max(
      0,
      Math.min(this.options.debounceMs, this.firstPendingAt + maxWait - now),
    );
    this.debounceTimer = this.clock.setTimeout(() => {
      this.debounceTimer = undefined;
      this.enqueue();
    }, wait);
  }

  private enqueue(): void {
    this.running = this.running.then(() => this.processBatch());
  }

  private scheduleReconcile(): void {
    if (this.stopped) return;
    this.reconcileTimer = this.clock.setTimeout(() => {
      this.pendingFull = true;
      this.enqueue();
      this.scheduleReconcile();
    }, this.options.reconcileIntervalMs);
  }

  // ---- batches ------------------------------------------------------------

  private async processBatch(): Promise<void> {
    if (this.stopped && this.abort.signal.aborted) return;
    this.firstPendingAt = undefined;
    const full = this.pendingFull;
    const reconcile = new Set(this.pendingReconcile);
    const paths = new Map(this.pendingPaths);
    this.pendingFull = false;
    this.pendingReconcile.clear();
    this.pendingPaths.clear();
    if (!full && reconcile.size === 0 && paths.size === 0) return;
    const changed = new Set<string>();
    let uploaded = 0;
    let deleted = 0;
    let failed = 0;
    let retry = false;
    try {
      if (full) {
        const r = await this.fullSync();
        uploaded += r.uploaded;
        deleted += r.deleted;
        failed += r.failed;
        for (const w of r.changed) changed.add(w);
      } else {
        for (const ws of reconcile) {
          paths.delete(ws);
          const r = await this.reconcileWorkspace(ws);
          uploaded += r.uploaded;
          deleted += r.deleted;
          failed += r.failed;
          if (r.uploaded + r.deleted > 0) changed.add(ws);
        }
        for (const [wsName, set] of paths) {
          const ws = this.workspaces.get(wsName);
          if (!ws) continue;
          if (set.size > TARGETED_LIMIT) {
            const r = await this.reconcileWorkspace(wsName);
            uploaded += r.uploaded;
            deleted += r.deleted;
            failed += r.failed;
            if (r.uploaded + r.deleted > 0) changed.add(wsName);
            continue;
          }
          const r = await this.processPaths(ws, [...set]);
          uploaded += r.uploaded;
          deleted += r.deleted;
          failed += r.retry.length;
          if (r.uploaded + r.deleted > 0) changed.add(wsName);
          if (r.reconcile) this.pendingReconcile.add(wsName);
          if (r.retry.length > 0) {
            retry = true;
            let again = this.pendingPaths.get(wsName);
            if (!again) this.pendingPaths.set(wsName, (again = new Set()));
            for (const p of r.retry) again.add(p);
          }
        }
      }
    } catch (err) {
      retry = true;
      failed += 1;
      // Keep the work: it is retried with backoff.
      if (full) this.pendingFull = true;
      for (const ws of reconcile) this.pendingReconcile.add(ws);
      for (const [ws, set] of paths) {
        let again = this.pendingPaths.get(ws);
        if (!again) this.pendingPaths.set(ws, (again = new Set()));
        for (const p of set) again.add(p);
      }
      this.log.warn(
        { err: toError(err), attempt: this.failures + 1 },
        'sync batch failed; will retry',
      );
    }
    if (retry) {
      const delay = backoffDelay(this.failures, { baseMs: 1000, maxMs: 30_000 });
      this.failures += 1;
      this.log.warn(
        { retryInMs: delay, attempt: this.failures },
        'changes not yet in the bucket; retrying',
      );
      if (!this.stopped) {
        this.retryTimer = this.clock.setTimeout(() => {
          this.retryTimer = undefined;
          this.enqueue();
        }, delay);
      }
    } else {
      if (this.failures > 0)
        this.log.info({ afterAttempts: this.failures }, 'caught up: all changes are in the bucket');
      this.failures = 0;
      if (this.pendingReconcile.size > 0 || this.pendingPaths.size > 0) this.enqueue();
    }
    if (uploaded + deleted + failed > 0) {
      this.log.info({ workspaces: [...changed], uploaded, deleted, failed }, 'batch synced');
    }
    this.notify([...changed].sort());
  }

  /** Tell the monitor, without waiting: the next batch never waits on it. */
  private notify(workspaces: string[]): void {
    if (workspaces.length === 0 || !this.options.notifier) return;
    void this.options.notifier.notifyChanged(workspaces);
  }

  /** Full sync of every workspace; (re)starts watchers to match the directories. */
  private async fullSync(): Promise<{
    uploaded: number;
    deleted: number;
    failed: number;
    changed: string[];
  }> {
    const res = await pushSync(this.ctx, { ...this.options.run, only: undefined });
    this.reportRefusals(res.summary.refusals.map((r) => r.message));
    const local = await listLocalWorkspaces(this.ctx.workspacesDir, this.log).catch(() => ({
      names: [] as string[],
    }));
    for (const name of local.names) {
      await this.ensureWatch(name, res.remote.get(name));
    }
    for (const name of [...this.workspaces.keys()])
      if (!local.names.includes(name)) await this.dropWatch(name);
    for (const f of res.summary.failures)
      this.log.warn({ workspace: f.workspace, path: f.path, code: f.code }, f.message);
    const changed = changedWorkspaces(res.plan);
    if (
      res.summary.failures.some(
        (f) => f.code === 'S3_UNREACHABLE' || f.code === 'S3_THROTTLED' || f.code === 'S3_SERVER',
      )
    ) {
      throw new BucketspaceError(
        'S3_UNREACHABLE',
        `${res.summary.failed} files could not be uploaded`,
        { retryable: true },
      );
    }
    return {
      uploaded: res.summary.uploaded,
      deleted: res.summary.deleted,
      failed: res.summary.failed,
      changed,
    };
  }

  private async reconcileWorkspace(
    name: string,
  ): Promise<{ uploaded: number; deleted: number; failed: number }> {
    const exists = await lstat(join(this.ctx.workspacesDir, name)).then(
      (s) => s.isDirectory() || s.isSymbolicLink(),
      () => false,
    );
    if (!exists) {
      await this.dropWatch(name);
      if (!this.ctx.deleteMissingWorkspaces) {
        this.log.warn(
          { workspace: name },
          'workspace directory removed; its objects stay in the bucket (set SYNC_DELETE_MISSING_WORKSPACES to remove them)',
        );
        return { uploaded: 0, deleted: 0, failed: 0 };
      }
    }
    if (exists) {
      // Ignore rules may have changed: rebuild the watcher (newly included directories get
      // watched) BEFORE walking, and keep the old one until the new one is ready, so an edit
      // made at any moment is either seen by this walk or raises an event afterwards.
      await this.rewatch(name);
    }
    const res = await pushSync(this.ctx, { ...this.options.run, only: name });
    this.reportRefusals(res.summary.refusals.map((r) => r.message));
    for (const f of res.summary.failures)
      this.log.warn({ workspace: f.workspace, path: f.path, code: f.code }, f.message);
    const current = this.workspaces.get(name);
    if (current) {
      current.remote = res.remote.get(name) ?? new Map<string, RemoteFile>();
      current.state = await this.ctx.state.load(name);
    }
    if (
      res.summary.failures.some(
        (f) => f.code === 'S3_UNREACHABLE' || f.code === 'S3_THROTTLED' || f.code === 'S3_SERVER',
      )
    ) {
      throw new BucketspaceError(
        'S3_UNREACHABLE',
        `${res.summary.failed} files of ${name} could not be uploaded`,
        { retryable: true },
      );
    }
    return {
      uploaded: res.summary.uploaded,
      deleted: res.summary.deleted,
      failed: res.summary.failed,
    };
  }

  private reportRefusals(messages: string[]): void {
    for (const m of messages) this.log.error({ rule: 'safety' }, `refused: ${m}`);
  }

  private async ensureWatch(
    name: string,
    remote: Map<string, RemoteFile> | undefined,
  ): Promise<void> {
    if (this.workspaces.has(name) || this.stopped) return;
    const root = join(this.ctx.workspacesDir, name);
    let filter: WorkspaceFilter;
    try {
      filter = await WorkspaceFilter.load({ root, extraExcludes: this.ctx.extraExcludes });
    } catch (err) {
      this.log.error(
        { err: toError(err), workspace: name },
        'cannot read the ignore rules; workspace not watched',
      );
      return;
    }
    const state = await this.ctx.state.load(name);
    const ws: WorkspaceWatch = {
      name,
      root,
      filter,
      watcher: undefined as unknown as FSWatcher,
      remote: remote ?? new Map<string, RemoteFile>(),
      state,
      recentDeletes: [],
    };
    ws.watcher = watch(root, {
      ignoreInitial: true,
      followSymlinks: false,
      ignored: (path: string, stats?: { isDirectory(): boolean }) =>
        this.isIgnored(ws, path, stats),
    });
    for (const event of ['add', 'change', 'unlink', 'addDir', 'unlinkDir'] as const) {
      ws.watcher.on(event, (p: string) => this.onWorkspaceEvent(ws, event, p));
    }
    ws.watcher.on('error', (err) => this.log.error({ err, workspace: name }, 'watcher error'));
    this.workspaces.set(name, ws);
    await new Promise<void>((resolve) => ws.watcher.once('ready', () => resolve()));
    this.log.debug({ workspace: name }, 'watching workspace');
  }

  /** Replace a workspace's watcher; the old one keeps reporting until the new one is ready. */
  private async rewatch(name: string): Promise<void> {
    const old = this.workspaces.get(name);
    this.workspaces.delete(name);
    await this.ensureWatch(name, old?.remote);
    if (old) await old.watcher.close();
  }

  private async dropWatch(name: string): Promise<void> {
    const ws = this.workspaces.get(name);
    if (!ws) return;
    this.workspaces.delete(name);
    await ws.watcher.close();
  }

  /** chokidar's `ignored`: never watch excluded directories (their contents cost nothing). */
  private isIgnored(ws: WorkspaceWatch, path: string, stats?: { isDirectory(): boolean }): boolean {
    const rel = relative(ws.root, path).split(sep).join('/');
    if (rel === '' || rel.startsWith('..')) return false;
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      if (ws.filter.isIgnored(parts.slice(0, i).join('/'), true)) return true;
    }
    if (stats) return ws.filter.isIgnored(rel, stats.isDirectory());
    return ws.filter.isIgnored(rel, false);
  }

  /** Upload or delete individual changed paths of one workspace. */
  private async processPaths(
    ws: WorkspaceWatch,
    paths: string[],
  ): Promise<{ uploaded: number; deleted: number; retry: string[]; reconcile: boolean }> {
    let uploaded = 0;
    const retry: string[] = [];
    const toDelete: string[] = [];
    let reconcile = false;
    const files: WalkedFile[] = [];
    for (const rel of paths.sort()) {
      const parts = rel.split('/');
      let ignored = false;
      for (let i = 1; i < parts.length && !ignored; i++) {
        const dir = parts.slice(0, i).join('/');
        await ws.filter.enterDirectory(dir);
        ignored = ws.filter.isIgnored(dir, true);
      }
      const abs = join(ws.root, rel);
      let st;
      try {
        st = await lstat(abs);
      } catch (err) {
        if (systemErrorCode(err) !== 'ENOENT' && systemErrorCode(err) !== 'ENOTDIR') {
          this.log.warn(
            { workspace: ws.name, path: rel, err: toError(err) },
            'cannot stat changed file',
          );
          continue;
        }
        if (ws.remote.has(rel)) toDelete.push(rel);
        continue;
      }
      if (st.isDirectory() || st.isSymbolicLink()) {
        reconcile = true;
        continue;
      }
      if (!st.isFile()) continue;
      if (ignored || ws.filter.isIgnored(rel, false)) {
        this.log.debug({ workspace: ws.name, path: rel }, 'changed file is excluded; not uploaded');
        if (ws.remote.has(rel)) toDelete.push(rel);
        continue;
      }
      const file: WalkedFile = {
        relPath: rel,
        absPath: abs,
        size: st.size,
        mtimeMs: st.mtimeMs,
        ctimeMs: st.ctimeMs,
        ino: st.ino,
        mode: st.mode,
      };
      const prev = ws.state.get(rel);
      const remote = ws.remote.get(rel);
      if (
        prev &&
        remote &&
        prev.etag === remote.etag &&
        prev.size === st.size &&
        prev.mtimeMs === st.mtimeMs &&
        prev.ctimeMs === st.ctimeMs &&
        prev.ino === st.ino
      ) {
        continue;
      }
      files.push(file);
    }
    await Promise.all(
      files.map(async (file) => {
        const key = objectKey(ws.name, file.relPath);
        try {
          const etag = await uploadFile(this.ctx, file, key, () => undefined);
          ws.state.set(file.relPath, stateOf(file, etag));
          ws.remote.set(file.relPath, {
            key,
            relPath: file.relPath,
            size: file.size,
            etag,
            lastModified: new Date(),
          });
          uploaded += 1;
          this.log.debug({ workspace: ws.name, path: file.relPath }, 'uploaded');
        } catch (err) {
          const e = toError(err);
          if (e.code === 'LOCAL_NOT_FOUND') {
            retry.push(file.relPath);
            return;
          }
          this.log.warn({ workspace: ws.name, path: file.relPath, err: e }, 'upload failed');
          if (e.retryable) retry.push(file.relPath);
        }
      }),
    );
    let deleted = 0;
    if (toDelete.length > 0) {
      const refusal = await this.deleteRefusal(ws, toDelete.length);
      if (refusal && !this.options.run.force) {
        this.log.error(
          { workspace: ws.name, deletes: toDelete.length },
          `refused: ${refusal}; nothing deleted`,
        );
      } else if (!this.options.run.noDelete) {
        try {
          const res = await this.ctx.store.deleteMany(
            toDelete.map((rel) => objectKey(ws.name, rel)),
            this.abort.signal,
          );
          for (const key of res.deleted) {
            const rel = key.slice(ws.name.length + 1);
            ws.remote.delete(rel);
            ws.state.delete(rel);
          }
          deleted = res.deleted.length;
          if (deleted > 0) ws.recentDeletes.push({ at: this.clock.now(), count: deleted });
        } catch (err) {
          this.log.warn({ workspace: ws.name, err: toError(err) }, 'delete failed');
          retry.push(...toDelete);
        }
      }
    }
    if (uploaded + deleted > 0) await this.ctx.state.save(ws.name, ws.state);
    return { uploaded, deleted, retry, reconcile };
  }

  private async deleteRefusal(ws: WorkspaceWatch, count: number): Promise<string | undefined> {
    const entries = await readdir(ws.root).catch(() => undefined);
    if (entries === undefined) return `workspace directory ${ws.root} is missing or unreadable`;
    if (entries.length === 0) return `workspace directory ${ws.root} is empty`;
    const since = this.clock.now() - DELETE_WINDOW_MS;
    ws.recentDeletes = ws.recentDeletes.filter((d) => d.at >= since);
    const recent = ws.recentDeletes.reduce((sum, d) => sum + d.count, 0);
    // Against what the workspace had before this window's deletions.
    if (exceedsMaxDelete(count + recent, ws.remote.size + recent, this.ctx.maxDelete)) {
      return recent === 0
        ? `${count} of ${ws.remote.size} objects of ${ws.name} would be deleted at once`
        : `${count} more of ${ws.name}'s objects would be deleted after ${recent} in the last ` +
            `${DELETE_WINDOW_MS / 1000} s (${count + recent} of ${ws.remote.size + recent})`;
    }
    return undefined;
  }
}

function toError(err: unknown): BucketspaceError {
  return isBucketspaceError(err)
    ? err
    : new BucketspaceError('INTERNAL', errorMessage(err), { cause: err });
}
