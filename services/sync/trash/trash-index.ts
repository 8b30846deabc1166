import type { ObjectInfo } from '../../common/s3/object-store.ts';
import { entryNamePrefix, parseTrashKey, trashEntryTime } from '../../common/trash-names.ts';

/** One object of a trash entry: its key in the trash and its path in the workspace. */
export interface TrashObject {
  key: string;
  relPath: string;
  size: number;
  etag: string;
}

/** One entry of the trash: what the sync removed from one workspace at one time. */
export interface TrashEntry {
  workspace: string;
  /** Its name: the UTC time of the move (trash-names.ts). */
  entry: string;
  deletedAt: Date;
  objects: TrashObject[];
  bytes: number;
}

/**
 * A listing of `.trash/` as entries, sorted by workspace then time (oldest
 * first). Keys that do not follow the layout `.trash/<workspace>/<time>/<path>`
 * (put there by hand or by another tool) are returned apart: a purge never
 * touches them and a restore never reads them. Pure.
 */
export function indexTrash(objects: readonly ObjectInfo[]): {
  entries: TrashEntry[];
  strays: string[];
} {
  const byEntry = new Map<string, TrashEntry>();
  const strays: string[] = [];
  for (const o of objects) {
    const parsed = parseTrashKey(o.key);
    if (parsed === undefined || o.key.endsWith('/')) {
      strays.push(o.key);
      continue;
    }
    const id = `${parsed.workspace}/${parsed.entry}`;
    let entry = byEntry.get(id);
    if (entry === undefined) {
      entry = {
        workspace: parsed.workspace,
        entry: parsed.entry,
        deletedAt: trashEntryTime(parsed.entry) ?? new Date(0),
        objects: [],
        bytes: 0,
      };
      byEntry.set(id, entry);
    }
    entry.objects.push({ key: o.key, relPath: parsed.relPath, size: o.size, etag: o.etag });
    entry.bytes += o.size;
  }
  const entries = [...byEntry.values()].sort((a, b) =>
    a.workspace === b.workspace
      ? a.deletedAt.getTime() - b.deletedAt.getTime()
      : a.workspace < b.workspace
        ? -1
        : 1,
  );
  return { entries, strays };
}

/** When an entry is purged: its time plus the retention. */
export function expiresAt(entry: Pick<TrashEntry, 'deletedAt'>, retentionMs: number): Date {
  return new Date(entry.deletedAt.getTime() + retentionMs);
}

/** The entries whose retention is over at `now` (ms since the epoch): the next purge deletes them. */
export function expiredEntries(
  entries: readonly TrashEntry[],
  now: number,
  retentionMs: number,
): TrashEntry[] {
  return entries.filter((e) => expiresAt(e, retentionMs).getTime() <= now);
}

/**
 * The entry `sync restore <workspace> [--at <time>]` means: the newest of
 * the workspace, or the one whose name starts with what `--at` gives
 * (entryNamePrefix: an entry's name, its leading part, or the ISO time with
 * colons). Anything else is a problem that names the entries there are.
 */
export function chooseEntry(
  entries: readonly TrashEntry[],
  workspace: string,
  at?: string,
): { entry: TrashEntry } | { problem: string } {
  const mine = entries.filter((e) => e.workspace === workspace);
  if (mine.length === 0) {
    const others = [...new Set(entries.map((e) => e.workspace))];
    return {
      problem:
        `the trash holds nothing of "${workspace}"` +
        (others.length === 0 ? ' (it is empty)' : `; it holds: ${others.join(', ')}`),
    };
  }
  const names = mine.map((e) => e.entry).join(', ');
  if (at === undefined) return { entry: mine[mine.length - 1] as TrashEntry };
  const prefix = entryNamePrefix(at);
  const matches = prefix === '' ? [] : mine.filter((e) => e.entry.startsWith(prefix));
  if (matches.length === 1) return { entry: matches[0] as TrashEntry };
  if (matches.length === 0)
    return {
      problem: `no entry of "${workspace}" in the trash matches --at ${at}; its entries: ${names}`,
    };
  return {
    problem: `--at ${at} matches ${matches.length} entries of "${workspace}" (${matches.map((e) => e.entry).join(', ')}); give more of the time`,
  };
}
