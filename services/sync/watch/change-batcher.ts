import type { Clock } from '../../common/clock.ts';

/** What one batch of changes asks for. */
export interface ChangeBatch {
  /** A full sync of every workspace (it covers everything else in the batch). */
  full: boolean;
  /** Workspaces to reconcile as a whole (walk and diff). */
  reconcile: Set<string>;
  /** Changed paths per workspace, for workspaces not reconciled. */
  paths: Map<string, Set<string>>;
}

export interface ChangeBatcherOptions {
  clock: Clock;
  /** Quiet time that closes a batch. */
  debounceMs: number;
  /** A batch never waits longer than this after its first change. */
  maxWaitMs: number;
  /** More changed paths than this in one workspace: reconcile it instead (one walk). */
  targetedLimit: number;
  /** A batch is ready: call take(). */
  onReady: () => void;
}

/**
 * Coalesces file events into batches (a `git checkout` of 500 files is one
 * batch): a batch closes after `debounceMs` of quiet, or `maxWaitMs` after its
 * first change however busy the tree stays. Driven only by the clock: no I/O.
 */
export class ChangeBatcher {
  readonly #options: ChangeBatcherOptions;
  #full = false;
  readonly #reconcile = new Set<string>();
  readonly #paths = new Map<string, Set<string>>();
  #firstAt: number | undefined;
  #timer: unknown;
  #stopped = false;

  constructor(options: ChangeBatcherOptions) {
    this.#options = options;
  }

  addPath(workspace: string, relPath: string): void {
    let set = this.#paths.get(workspace);
    if (!set) this.#paths.set(workspace, (set = new Set()));
    set.add(relPath);
    this.#kick();
  }

  addReconcile(workspace: string): void {
    this.#reconcile.add(workspace);
    this.#kick();
  }

  addFull(): void {
    this.#full = true;
    this.#kick();
  }

  /** Whether changes are waiting. */
  get pending(): boolean {
    return this.#full || this.#reconcile.size > 0 || this.#paths.size > 0;
  }

  /** Everything pending, as one batch (undefined when nothing is); pending is empty afterwards. */
  take(): ChangeBatch | undefined {
    this.#firstAt = undefined;
    if (!this.pending) return undefined;
    const batch: ChangeBatch = {
      full: this.#full,
      reconcile: new Set(this.#full ? [] : this.#reconcile),
      paths: new Map(),
    };
    if (!this.#full) {
      for (const [workspace, paths] of this.#paths) {
        if (batch.reconcile.has(workspace)) continue;
        if (paths.size > this.#options.targetedLimit) batch.reconcile.add(workspace);
        else batch.paths.set(workspace, new Set(paths));
      }
    }
    this.#full = false;
    this.#reconcile.clear();
    this.#paths.clear();
    return batch;
  }

  /** Work of a batch that must be done again (a failure): merged with what came meanwhile, not scheduled. */
  putBack(batch: Partial<ChangeBatch>): void {
    if (batch.full) this.#full = true;
    for (const workspace of batch.reconcile ?? []) this.#reconcile.add(workspace);
    for (const [workspace, paths] of batch.paths ?? []) {
      let set = this.#paths.get(workspace);
      if (!set) this.#paths.set(workspace, (set = new Set()));
      for (const p of paths) set.add(p);
    }
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#options.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #kick(): void {
    if (this.#stopped) return;
    const { clock, debounceMs, maxWaitMs } = this.#options;
    const now = clock.now();
    this.#firstAt ??= now;
    if (this.#timer !== undefined) clock.clearTimeout(this.#timer);
    const wait = Math.max(0, Math.min(debounceMs, this.#firstAt + maxWaitMs - now));
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      this.#options.onReady();
    }, wait);
  }
}
