import { trashEntryName } from '../../common/trash-names.ts';

/**
 * Removals of one workspace this close together join one entry: as long as
 * watch mode's delete window, within which deletions count together.
 */
export const TRASH_ENTRY_REUSE_MS = 60_000;

/**
 * Which trash entry the removals of a workspace join. The first removal
 * opens an entry named after its time; later removals of the same workspace
 * join it while they follow within `reuseWithinMs` of the previous one. So a
 * directory deleted file by file while `sync watch` runs (a slow `rm -rf`
 * whose files vanish over several batches before the directory itself) ends
 * up as one entry, restorable as a whole. Pure: time comes from the caller.
 */
export class TrashEntries {
  readonly reuseWithinMs: number;
  readonly #open = new Map<string, { entry: string; lastAt: number }>();
  #firstOpenedAt: number | undefined;

  constructor(options: { reuseWithinMs: number }) {
    this.reuseWithinMs = options.reuseWithinMs;
  }

  /** The entry for removals of `workspace` made at `now` (ms since the epoch). */
  entryFor(workspace: string, now: number): string {
    const open = this.#open.get(workspace);
    if (open !== undefined && now - open.lastAt <= this.reuseWithinMs && now >= open.lastAt) {
      open.lastAt = now;
      return open.entry;
    }
    const entry = trashEntryName(new Date(now));
    this.#open.set(workspace, { entry, lastAt: now });
    this.#firstOpenedAt = Math.min(this.#firstOpenedAt ?? now, now);
    return entry;
  }

  /** The time of the oldest entry opened since the last call (the purge schedules its expiry). */
  takeFirstOpened(): number | undefined {
    const at = this.#firstOpenedAt;
    this.#firstOpenedAt = undefined;
    return at;
  }

  /** Forget the open entry of a workspace when it is `entry` (it was restored or purged). */
  close(workspace: string, entry: string): void {
    if (this.#open.get(workspace)?.entry === entry) this.#open.delete(workspace);
  }
}
