import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { asBucketspaceError } from '../../common/errors.ts';
import { trashPrefix } from '../../common/trash-names.ts';
import { deleteObjects } from '../operations/delete.ts';
import type { SyncContext } from '../sync-context.ts';
import {
  purgeDue,
  recordAfterPurge,
  recordWithOpened,
  type PurgeRecord,
} from './purge-schedule.ts';
import { expiredEntries, indexTrash, type TrashEntry } from './trash-index.ts';

export interface PurgeOutcome {
  /** The entries whose retention was over (deleted, unless a dry run). */
  expired: TrashEntry[];
  failed: { key: string; code: string; message: string }[];
}

/** The purge record in the remote's state directory. */
const RECORD_FILE = 'trash-purge.json';

/**
 * Deletes the trash entries whose retention (SYNC_TRASH_RETENTION) is over.
 * A full sync runs it after its own deletions, when nothing blocked them.
 * The trash is listed only when something may be due (purge-schedule.ts),
 * so a sync with nothing to do costs no request here. A dry run lists it and
 * only says what it would delete. Never throws: a failed listing or delete
 * comes back in `failed` (a later sync tries again).
 */
export async function purgeTrash(
  ctx: SyncContext,
  options: { dryRun: boolean },
): Promise<PurgeOutcome> {
  const now = ctx.clock.now();
  const retentionMs = ctx.trash.retentionMs;
  const recordPath = join(ctx.state.dir, RECORD_FILE);
  if (!options.dryRun) {
    let record = await readRecord(recordPath);
    const opened = ctx.trash.entries.takeFirstOpened();
    if (record !== undefined && opened !== undefined && record.retentionMs === retentionMs)
      record = recordWithOpened(record, opened);
    if (!purgeDue(record, now, retentionMs)) {
      if (opened !== undefined && record !== undefined) await writeRecord(recordPath, record);
      return { expired: [], failed: [] };
    }
  }
  let listed;
  try {
    listed = await ctx.store.list(trashPrefix(), ctx.signal);
  } catch (err) {
    const e = asBucketspaceError(err);
    return { expired: [], failed: [{ key: trashPrefix(), code: e.code, message: e.message }] };
  }
  const { entries } = indexTrash(listed);
  const expired = expiredEntries(entries, now, retentionMs);
  if (options.dryRun) return { expired, failed: [] };
  const outcome = await deleteObjects(
    ctx,
    expired.flatMap((e) => e.objects.map((o) => o.key)),
  );
  const failedKeys = new Set(outcome.failed.map((f) => f.key));
  const purged = expired.filter((e) => !e.objects.some((o) => failedKeys.has(o.key)));
  for (const e of purged) ctx.trash.entries.close(e.workspace, e.entry);
  await writeRecord(
    recordPath,
    recordAfterPurge(
      entries.filter((e) => !purged.includes(e)),
      now,
      retentionMs,
    ),
  );
  if (expired.length > 0)
    ctx.logger.child({ component: 'trash' }).info(
      {
        entries: expired.map((e) => `${e.workspace}/${e.entry}`),
        objects: outcome.deleted.length,
        failed: outcome.failed.length,
      },
      'purged trash entries older than the retention',
    );
  return { expired, failed: outcome.failed };
}

async function readRecord(path: string): Promise<PurgeRecord | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<PurgeRecord>;
    if (
      typeof parsed.retentionMs === 'number' &&
      typeof parsed.checkedAt === 'number' &&
      (parsed.dueAt === null || typeof parsed.dueAt === 'number')
    )
      return parsed as PurgeRecord;
  } catch {
    // No record (or an unreadable one): the trash is listed.
  }
  return undefined;
}

/** A record that could not be written is removed: without one, the next sync lists the trash. */
async function writeRecord(path: string, record: PurgeRecord): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, JSON.stringify(record));
  } catch {
    await rm(path, { force: true }).catch(() => undefined);
  }
}
