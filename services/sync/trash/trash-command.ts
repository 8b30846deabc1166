import { Command } from 'commander';
import { logLevelOption } from '../../common/cli-options.ts';
import type { CommandIo } from '../../common/command-io.ts';
import { BucketspaceError, isBucketspaceError } from '../../common/errors.ts';
import { EXIT } from '../../common/exit-codes.ts';
import { restoreCommand, trashPrefix } from '../../common/trash-names.ts';
import { pushSync } from '../push.ts';
import { formatBytes } from '../../common/format-bytes.ts';
import { formatPlan, formatSummary } from '../report.ts';
import type { RunOptions, SyncContext } from '../sync-context.ts';
import { SyncLock, type LockHolder } from '../sync-lock.ts';
import type { SyncSummary } from '../types.ts';
import { assertWorkspaceArgument } from '../workspaces.ts';
import { expiresAt, indexTrash, type TrashEntry } from './trash-index.ts';
import { removeEntry, restoreFromTrash, type RestoreResult } from './restore.ts';

/** What the sync command lends the trash commands (its settings, context and output). */
export interface SyncCommandKit<Flags, Settings> {
  io: CommandIo;
  addSyncOptions(cmd: Command): Command;
  withContext(
    io: CommandIo,
    flags: Flags,
    fn: (ctx: SyncContext, settings: Settings) => Promise<void>,
  ): Promise<void>;
  runOptions(flags: Flags, only?: string): RunOptions;
  /** Tell the monitor which workspaces a run changed. */
  notifyMonitor(settings: Settings, ctx: SyncContext, changed: readonly string[]): Promise<void>;
}

interface TrashFlags {
  json?: boolean;
  dryRun?: boolean;
  at?: string;
  as?: string;
  list?: boolean;
}

/** `sync trash [<workspace>]` and `sync restore <workspace> [--at <time>] [--as <name>]`. */
export function addTrashCommands<Flags extends object, Settings>(
  sync: Command,
  kit: SyncCommandKit<Flags, Settings>,
): void {
  const { io } = kit;
  const list = async (flags: Flags & TrashFlags, workspace: string | undefined) => {
    if (workspace !== undefined) assertWorkspaceArgument(workspace);
    await kit.withContext(io, flags, async (ctx) => {
      const { entries } = indexTrash(await ctx.store.list(trashPrefix(workspace), ctx.signal));
      io.stdout.write(`${formatTrash(ctx, entries, flags.json === true)}\n`);
      io.setExitCode(EXIT.ok);
    });
  };

  sync
    .command('trash')
    .description(
      'list the trash: what the sync removed from the bucket, per workspace and time, and until when it can be restored',
    )
    .argument('[workspace]', 'only this workspace')
    .option('--json', 'print the entries as JSON')
    .option('--endpoint <url>', 'S3 endpoint (S3_ENDPOINT)')
    .option('--bucket <name>', 'bucket (S3_BUCKET)')
    .option('--region <region>', 'region (S3_REGION)')
    .option('--trash-retention <duration>', 'how long entries are kept (SYNC_TRASH_RETENTION)')
    .addOption(logLevelOption())
    .action(async (workspace: string | undefined, _opts, cmd: Command) => {
      await list(cmd.optsWithGlobals<Flags & TrashFlags>(), workspace);
    });

  kit
    .addSyncOptions(sync.command('restore'))
    .description(
      'bring a workspace back from the trash into WORKSPACES_DIR (the newest entry, or --at), then sync it; never overwrites a file',
    )
    .argument('[workspace]', 'the workspace to restore (directory name under WORKSPACES_DIR)')
    .option(
      '--at <time>',
      'the entry deleted at this time (its name, a leading part of it, or ISO)',
    )
    .option('--as <name>', 'restore under this workspace name instead')
    .option('--list', 'list the trash (as `sync trash`) instead')
    .action(async (workspace: string | undefined, _opts, cmd: Command) => {
      const flags = cmd.optsWithGlobals<Flags & TrashFlags>();
      if (flags.list === true) {
        await list(flags, workspace);
        return;
      }
      if (workspace === undefined)
        throw new BucketspaceError(
          'USAGE',
          'name the workspace to restore; `bucketspace sync trash` lists what the trash holds',
        );
      await kit.withContext(io, flags, async (ctx, settings) => {
        const dryRun = flags.dryRun === true;
        const { result, chosen } = await restoreFromTrash(ctx, {
          workspace,
          ...(flags.at !== undefined ? { at: flags.at } : {}),
          ...(flags.as !== undefined ? { as: flags.as } : {}),
          dryRun,
        });
        let push: SyncSummary | undefined;
        let uploadBy: LockHolder | 'unknown' | undefined;
        let entryRemoved = false;
        if (!dryRun && result.failures.length === 0) {
          const lock = await SyncLock.acquire({
            dir: ctx.state.dir,
            holder: { command: `sync restore ${workspace}`, workspacesDir: ctx.workspacesDir },
            now: new Date(ctx.clock.now()),
            logger: ctx.logger,
          }).catch((err: unknown) => {
            if (!isBucketspaceError(err, 'CONFLICT')) throw err;
            uploadBy = (err.details.holder as LockHolder | undefined) ?? 'unknown';
            return 'held' as const;
          });
          if (lock !== 'held') {
            try {
              const res = await pushSync(ctx, kit.runOptions(flags, result.target));
              push = res.summary;
              await kit.notifyMonitor(settings, ctx, res.changed);
            } finally {
              await lock?.release();
            }
          }
          // Every file is back in WORKSPACES_DIR: the entry has done its work.
          const failed = await removeEntry(ctx, chosen);
          result.failures.push(...failed);
          entryRemoved = failed.length === 0;
        }
        if (flags.json === true) {
          const { plan, ...rest } = result;
          io.stdout.write(
            `${JSON.stringify({
              restore: dryRun ? { ...rest, plan } : rest,
              push: push ?? null,
              uploadLeftTo: uploadBy ?? null,
              entryRemoved,
            })}\n`,
          );
        } else {
          io.stdout.write(
            `${formatRestore(ctx, result, { push, uploadBy, entryRemoved, dryRun })}\n`,
          );
        }
        io.setExitCode(
          result.failures.length > 0 || (push?.failed ?? 0) > 0
            ? EXIT.failures
            : (push?.refusals.length ?? 0) > 0
              ? EXIT.refused
              : EXIT.ok,
        );
      });
    });
}

/** `sync trash`: one line per entry, with its files, size and when it is purged. */
function formatTrash(ctx: SyncContext, entries: readonly TrashEntry[], json: boolean): string {
  const retentionMs = ctx.trash.retentionMs;
  if (json)
    return JSON.stringify({
      bucket: ctx.store.bucket,
      retentionMs,
      entries: entries.map((e) => ({
        workspace: e.workspace,
        entry: e.entry,
        deletedAt: e.deletedAt.toISOString(),
        files: e.objects.length,
        bytes: e.bytes,
        expiresAt: expiresAt(e, retentionMs).toISOString(),
        restore: restoreCommand(e.workspace, e.entry),
      })),
    });
  if (entries.length === 0) return `the trash of ${ctx.store.description} is empty`;
  const rows = [
    ['workspace', 'entry (deleted, UTC)', 'files', 'size', 'purged after'],
    ...entries.map((e) => [
      e.workspace,
      e.entry,
      String(e.objects.length),
      formatBytes(e.bytes),
      humanTime(expiresAt(e, retentionMs)),
    ]),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  const table = rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
  return [
    `trash of ${ctx.store.description}:`,
    ...table,
    'restore with: bucketspace sync restore <workspace> [--at <entry>]',
  ].join('\n');
}

function formatRestore(
  ctx: SyncContext,
  r: RestoreResult,
  extra: {
    push: SyncSummary | undefined;
    uploadBy: LockHolder | 'unknown' | undefined;
    entryRemoved: boolean;
    dryRun: boolean;
  },
): string {
  const out: string[] = [];
  const from = `${trashPrefix(r.workspace, r.entry)} (deleted ${humanTime(new Date(r.deletedAt))})`;
  const into = `${ctx.workspacesDir}/${r.target}`;
  if (extra.dryRun) {
    if (r.plan.length > 0) out.push(formatPlan(r.plan));
    out.push(
      `dry run: would restore ${r.restored} files (${formatBytes(r.bytes)}) from ${from} into ${into}` +
        (r.into === 'existing' ? `, an existing workspace (${r.same} files already there)` : ''),
    );
    return out.join('\n');
  }
  for (const f of r.failures)
    out.push(`  failed   ${f.workspace}/${f.path}: ${f.message} [${f.code}]`);
  if (r.restored === 0 && r.into === 'new') {
    out.unshift(
      `nothing restored from ${from}: a workspace that was gone comes back whole or not at all`,
    );
    return out.join('\n');
  }
  out.unshift(
    `restored ${r.restored} files (${formatBytes(r.bytes)}) from ${from} into ${into}` +
      (r.into === 'existing'
        ? ` (added to the existing workspace; ${r.same} files were already there)`
        : ''),
  );
  if (extra.push) out.push(formatSummary(extra.push));
  else if (extra.uploadBy !== undefined) {
    const who =
      extra.uploadBy === 'unknown'
        ? 'another sync'
        : `\`${extra.uploadBy.command}\` (pid ${extra.uploadBy.pid} on ${extra.uploadBy.host})`;
    out.push(
      `not uploaded here: ${who} holds the bucket and uploads ${r.target} (sync watch at once, a one-shot sync at its next run)`,
    );
  }
  if (extra.entryRemoved) out.push(`removed ${trashPrefix(r.workspace, r.entry)} from the trash`);
  return out.join('\n');
}

/** `2026-12-07 12:34 UTC`. */
function humanTime(d: Date): string {
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
