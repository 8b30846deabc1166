import { expiresAt, type TrashEntry } from './trash-index.ts';

/**
 * What a sync remembers about the trash between runs (in its state
 * directory), so that a sync with nothing to do does not list the trash: when
 * it was last listed, with which retention, and when its oldest entry
 * expires (null: it was empty).
 */
export interface PurgeRecord {
  retentionMs: number;
  checkedAt: number;
  dueAt: number | null;
}

/**
 * The trash is listed at least this often even when nothing seems due:
 * entries another machine (or a run that was killed before it could note
 * them) put there are purged at most this late.
 */
export const PURGE_CHECK_MAX_MS = 86_400_000;

/**
 * Whether a full sync lists the trash to purge it: without a record, when
 * the retention changed, when an entry is due (entries this process opened
 * are in the record: recordWithOpened), or when the last look is a day old
 * (or in the future: the clock went back). Pure.
 */
export function purgeDue(
  record: PurgeRecord | undefined,
  now: number,
  retentionMs: number,
): boolean {
  if (record === undefined || record.retentionMs !== retentionMs) return true;
  if (record.dueAt !== null && now >= record.dueAt) return true;
  return now - record.checkedAt >= PURGE_CHECK_MAX_MS || now < record.checkedAt;
}

/** The record after a listing that left `remaining` in the trash. */
export function recordAfterPurge(
  remaining: readonly TrashEntry[],
  now: number,
  retentionMs: number,
): PurgeRecord {
  const due = remaining.map((e) => expiresAt(e, retentionMs).getTime());
  return { retentionMs, checkedAt: now, dueAt: due.length === 0 ? null : Math.min(...due) };
}

/** The record once entries opened at `openedAt` (this process) are in the trash too. */
export function recordWithOpened(record: PurgeRecord, openedAt: number): PurgeRecord {
  const due = openedAt + record.retentionMs;
  return { ...record, dueAt: record.dueAt === null ? due : Math.min(record.dueAt, due) };
}
