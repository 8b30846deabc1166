import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { systemClock, type Clock } from '../../common/clock.ts';
import { BucketspaceError, systemErrorCode } from '../../common/errors.ts';
import { restoreCommand, TRASH_DIR, trashEntryTime } from '../../common/trash-names.ts';
import { describeRootError, withTimeout } from './mount-health.ts';

/** One entry of the trash as the dashboard shows it. */
export interface TrashListEntry {
  workspace: string;
  /** The entry's name: the UTC time of the move. */
  entry: string;
  /** ISO time. */
  deletedAt: string;
  /** The one command that brings it back. */
  restore: string;
}

export interface TrashListingOptions {
  /** WORKSPACES_MOUNT: the trash is its `.trash` directory. */
  root: string;
  clock?: Clock;
  /** A listing is reused this long (default 10 s): many open dashboards cost one. */
  cacheMs?: number;
  /** A mount that does not answer for this long is unavailable (default 10 s). */
  timeoutMs?: number;
}

/**
 * The trash as the mount shows it: `<root>/.trash/<workspace>/<entry>/`,
 * where the sync moves what it removes from the bucket (trash-names.ts).
 * Two directory levels, never a walk, from a short cache; one listing at a
 * time, so a hung mount holds one thread however often the dashboard asks.
 * No `.trash` directory is an empty trash; any other failure is
 * MOUNT_UNAVAILABLE with what is wrong.
 */
export class TrashListing {
  readonly #dir: string;
  readonly #clock: Clock;
  readonly #cacheMs: number;
  readonly #timeoutMs: number;
  #cached: { at: number; entries: TrashListEntry[] } | undefined;
  #inFlight: Promise<TrashListEntry[]> | undefined;

  constructor(options: TrashListingOptions) {
    this.#dir = path.join(path.resolve(options.root), TRASH_DIR);
    this.#clock = options.clock ?? systemClock;
    this.#cacheMs = options.cacheMs ?? 10_000;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  async list(): Promise<TrashListEntry[]> {
    const now = this.#clock.now();
    if (this.#cached !== undefined && now - this.#cached.at < this.#cacheMs)
      return this.#cached.entries;
    this.#inFlight ??= readTrash(this.#dir).finally(() => {
      this.#inFlight = undefined;
    });
    const answer = await withTimeout(this.#inFlight, this.#clock, this.#timeoutMs);
    if (answer === 'timeout')
      throw new BucketspaceError(
        'MOUNT_UNAVAILABLE',
        `${this.#dir}: no answer within ${this.#timeoutMs / 1000}s — the mount hangs; check the mount's logs and restart it`,
      );
    this.#cached = { at: now, entries: answer };
    return answer;
  }
}

async function readTrash(dir: string): Promise<TrashListEntry[]> {
  const workspaces = await listDirs(dir);
  const entries: TrashListEntry[] = [];
  for (const workspace of workspaces) {
    for (const entry of await listDirs(path.join(dir, workspace))) {
      const at = trashEntryTime(entry);
      if (at === undefined) continue;
      entries.push({
        workspace,
        entry,
        deletedAt: at.toISOString(),
        restore: restoreCommand(workspace, entry),
      });
    }
  }
  // Newest first: what was just deleted is what people look for.
  return entries.sort((a, b) =>
    a.deletedAt < b.deletedAt ? 1 : a.deletedAt > b.deletedAt ? -1 : 0,
  );
}

async function listDirs(dir: string): Promise<string[]> {
  let found: Dirent[];
  try {
    found = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    // No trash yet, or an entry purged while it was read.
    if (systemErrorCode(err) === 'ENOENT') return [];
    throw new BucketspaceError('MOUNT_UNAVAILABLE', describeRootError(dir, err), { cause: err });
  }
  return found
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}
