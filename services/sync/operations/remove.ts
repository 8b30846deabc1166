import { trashKey } from '../../common/trash-names.ts';
import { splitKey } from '../object-keys.ts';
import type { TrashEntries } from '../trash/trash-entries.ts';
import { runTransfers } from '../transfer-queue.ts';
import type { ProgressSink } from '../types.ts';
import { deleteObjects, type DeleteOutcome } from './delete.ts';
import type { Transfer } from './transfer.ts';

/** Where removed objects go: the trash's retention (0: no trash) and its open entries. */
export interface TrashSettings {
  retentionMs: number;
  entries: TrashEntries;
}

export interface RemoveContext extends Transfer {
  trash: TrashSettings;
  concurrency: number;
  /** Shows the moves into the trash (a copy each) on a terminal. */
  progress?: ProgressSink;
}

export interface RemoveOutcome extends DeleteOutcome {
  /** The trash entries the objects moved to, per workspace (empty without a trash). */
  trashed: { workspace: string; entry: string; objects: number; bytes: number }[];
}

/**
 * Removes objects of workspaces from where they are: every object the sync
 * removes (a file deleted or now excluded, a workspace whose directory is
 * gone) moves to the trash — a server-side copy to
 * `.trash/<workspace>/<entry>/<path>`, then the delete — so it can be
 * restored until the retention is over. An object whose copy failed stays
 * where it is and comes back in `failed`. With a retention of 0 there is no
 * trash: the objects are deleted. Never throws. The rails (rails.ts) are
 * asked before this is called, never here.
 */
export async function removeObjects(
  ctx: RemoveContext,
  objects: readonly { key: string; size: number }[],
  now: number,
): Promise<RemoveOutcome> {
  if (objects.length === 0) return { deleted: [], failed: [], trashed: [] };
  if (ctx.trash.retentionMs === 0)
    return {
      ...(await deleteObjects(
        ctx,
        objects.map((o) => o.key),
      )),
      trashed: [],
    };
  const moves = objects.map((o) => {
    const { workspace, relPath } = splitKey(o.key);
    const entry = ctx.trash.entries.entryFor(workspace, now);
    return { ...o, workspace, entry, to: trashKey(workspace, entry, relPath) };
  });
  ctx.progress?.start(
    'to the trash',
    moves.length,
    moves.reduce((n, m) => n + m.size, 0),
  );
  const copied = await runTransfers({
    items: moves,
    concurrency: ctx.concurrency,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    run: async (m) => {
      try {
        await ctx.store.copy({
          from: m.key,
          to: m.to,
          size: m.size,
          ...(ctx.signal ? { signal: ctx.signal } : {}),
        });
      } finally {
        ctx.progress?.tick(1, m.size);
      }
    },
  });
  ctx.progress?.stop();
  const outcome = await deleteObjects(
    ctx,
    copied.ok.map((m) => m.key),
  );
  const deleted = new Set(outcome.deleted);
  const trashed = new Map<string, RemoveOutcome['trashed'][number]>();
  for (const m of copied.ok) {
    if (!deleted.has(m.key)) continue;
    const id = `${m.workspace}/${m.entry}`;
    const t = trashed.get(id) ?? { workspace: m.workspace, entry: m.entry, objects: 0, bytes: 0 };
    t.objects += 1;
    t.bytes += m.size;
    trashed.set(id, t);
  }
  return {
    deleted: outcome.deleted,
    failed: [
      ...copied.failed.map((f) => ({
        key: f.item.key,
        code: f.error.code,
        message: `not moved to the trash (kept where it is): ${f.error.message}`,
        retryable: f.error.retryable,
      })),
      ...outcome.failed,
    ],
    trashed: [...trashed.values()],
  };
}
