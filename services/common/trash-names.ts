/**
 * The trash, as names: every rule about where removed objects go in the
 * bucket, in one place, read by the sync (which moves objects there, purges
 * and restores them) and the monitor (which lists it from the mount).
 *
 * An object the sync removes moves to `.trash/<workspace>/<entry>/<path>`,
 * where `<entry>` is the UTC time of the move, `2026-11-30T12-34-56.789Z`
 * (ISO 8601 with `-` for `:`, so it is a plain file name everywhere). The
 * trash sits beside the workspaces; its name starts with `.`, so it is never
 * a workspace (workspace-name.ts: hidden entries are not).
 */

import { shellQuote } from './shell-quote.ts';

/** The trash's directory directly under the workspaces root, and its prefix in the bucket. */
export const TRASH_DIR = '.trash';

/** One trash entry's name: the time the objects were moved, UTC, to the millisecond. */
export function trashEntryName(at: Date): string {
  return at.toISOString().replace(/:/g, '-');
}

const ENTRY_NAME = /^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})(\.\d{1,3})?Z$/;

/** The time of an entry from its name; undefined when the name is not an entry's. */
export function trashEntryTime(name: string): Date | undefined {
  const m = ENTRY_NAME.exec(name);
  if (!m) return undefined;
  const date = new Date(`${m[1]}T${m[2]}:${m[3]}:${m[4]}${m[5] ?? ''}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/**
 * A time as a user may type it to pick an entry (`--at`): an entry's name, a
 * leading part of one (`2026-11-30T12-34`), or the same in ISO with colons
 * (`2026-11-30T12:34:56Z`). Returns the leading part of entry names it means.
 */
export function entryNamePrefix(text: string): string {
  const trimmed = text.trim().replace(/:/g, '-');
  // "…56Z" means the second, whatever its milliseconds: match "…56" and ".mmmZ" after it.
  return /T\d{2}-\d{2}-\d{2}Z$/.test(trimmed) ? trimmed.slice(0, -1) : trimmed;
}

/** The bucket prefix of the whole trash, of one workspace's entries, or of one entry. */
export function trashPrefix(workspace?: string, entry?: string): string {
  if (workspace === undefined) return `${TRASH_DIR}/`;
  if (entry === undefined) return `${TRASH_DIR}/${workspace}/`;
  return `${TRASH_DIR}/${workspace}/${entry}/`;
}

/** Where the object of `relPath` of `workspace` goes in the entry `entry`. */
export function trashKey(workspace: string, entry: string, relPath: string): string {
  return `${trashPrefix(workspace, entry)}${relPath}`;
}

/** Whether a key is in the trash (and so never a file of any workspace). */
export function isTrashKey(key: string): boolean {
  return key.startsWith(`${TRASH_DIR}/`);
}

/** The workspace, entry and workspace-relative path of a trash key; undefined for any other key. */
export function parseTrashKey(
  key: string,
): { workspace: string; entry: string; relPath: string } | undefined {
  if (!isTrashKey(key)) return undefined;
  const parts = key.slice(TRASH_DIR.length + 1).split('/');
  const [workspace, entry] = parts;
  const relPath = parts.slice(2).join('/');
  if (workspace === undefined || workspace === '' || entry === undefined || relPath === '')
    return undefined;
  if (trashEntryTime(entry) === undefined) return undefined;
  return { workspace, entry, relPath };
}

/** The one command that brings an entry back, as the sync's output and the dashboard show it. */
export function restoreCommand(workspace: string, entry?: string): string {
  return `bucketspace sync restore ${shellQuote(workspace)}${entry === undefined ? '' : ` --at ${entry}`}`;
}
