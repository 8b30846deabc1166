import { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { logLevelOption } from '../common/cli-options.ts';
import { systemClock } from '../common/clock.ts';
import type { CommandIo } from '../common/command-io.ts';
import { logEffectiveConfig, redactSecrets } from '../common/effective-config.ts';
import { BucketspaceError } from '../common/errors.ts';
import { EXIT } from '../common/exit-codes.ts';
import { explainAfterEntering, WorkspaceFilter } from '../common/ignore/workspace-filter.ts';
import { createLogger, type Logger } from '../common/logger.ts';
import { keepHeapSmall } from '../common/small-heap.ts';
import { S3ObjectStore } from '../common/s3/s3-object-store.ts';
import { logRetries } from '../common/s3/s3-retry.ts';
import { finishS3Config, loggableS3Config, S3_SETTINGS } from '../common/s3/s3-settings.ts';
import { configError, resolveAll, type SettingsOf } from '../common/settings.ts';
import { changeHintProblems, changeHints, type ChangeHints } from './change-hints.ts';
import { noProgress, terminalProgress } from './progress.ts';
import { pushSync } from './push.ts';
import { formatPlan, formatRule, formatSummary } from './report.ts';
import type { RunOptions, SyncContext } from './sync-context.ts';
import { SYNC_SETTINGS } from './sync-settings.ts';
import { SyncLock } from './sync-lock.ts';
import { SyncState } from './sync-state.ts';
import { addTrashCommands } from './trash/trash-command.ts';
import { TRASH_ENTRY_REUSE_MS, TrashEntries } from './trash/trash-entries.ts';
import type { SyncSummary } from './types.ts';
import { assertWorkspaceArgument } from './workspaces.ts';

interface SyncFlags {
  dryRun?: boolean;
  json?: boolean;
  delete?: boolean;
  maxDelete?: string;
  concurrency?: string;
  force?: boolean;
  endpoint?: string;
  bucket?: string;
  region?: string;
  workspacesDir?: string;
  stateDir?: string;
  exclude?: string[];
  deleteMissingWorkspaces?: boolean;
  trashRetention?: string;
  logLevel?: string;
}

function addSyncOptions(cmd: Command): Command {
  return cmd
    .option('--dry-run', 'print the plan and change nothing')
    .option('--json', 'print one machine-readable summary on stdout')
    .option('--no-delete', 'never delete, only add and update')
    .option(
      '--max-delete <n|n%>',
      'refuse to delete more than this per workspace (a count or a percentage)',
    )
    .option('--concurrency <n>', 'transfers at once (default 32)')
    .option('--force', 'go ahead although a safety rail refused (says what it overrode)')
    .option(
      '--delete-missing-workspaces',
      'a workspace whose local directory is gone moves to the trash (the default)',
    )
    .option(
      '--no-delete-missing-workspaces',
      'keep the objects of a workspace whose local directory is gone',
    )
    .option(
      '--trash-retention <duration>',
      'how long removed objects stay in the trash (SYNC_TRASH_RETENTION, default 7d; 0: no trash)',
    )
    .option('--exclude <pattern...>', 'extra gitignore-style exclude patterns')
    .option('--endpoint <url>', 'S3 endpoint (S3_ENDPOINT)')
    .option('--bucket <name>', 'bucket (S3_BUCKET)')
    .option('--region <region>', 'region (S3_REGION)')
    .option('--workspaces-dir <dir>', 'local workspaces directory (WORKSPACES_DIR)')
    .option('--state-dir <dir>', 'where sync state is kept (SYNC_STATE_DIR)')
    .addOption(logLevelOption());
}

type Settings = {
  s3: ReturnType<typeof finishS3Config>['config'];
  sync: SettingsOf<typeof SYNC_SETTINGS>;
};

export function loadSyncSettings(env: CommandIo['env'], flags: SyncFlags): Settings {
  const [rawS3, sync] = resolveAll(S3_SETTINGS, SYNC_SETTINGS, {
    env,
    flags: {
      endpoint: flags.endpoint,
      bucket: flags.bucket,
      region: flags.region,
      workspacesDir: flags.workspacesDir,
      stateDir: flags.stateDir,
      concurrency: flags.concurrency,
      maxDelete: flags.maxDelete,
      extraExcludes: flags.exclude,
      deleteMissingWorkspaces: flags.deleteMissingWorkspaces,
      trashRetention: flags.trashRetention,
      logLevel: flags.logLevel,
    },
  });
  const { config, problems } = finishS3Config(rawS3);
  problems.push(...changeHintProblems(sync, config.credentials?.secretAccessKey));
  if (problems.length > 0) throw configError(problems);
  return { s3: config, sync };
}

function makeLogger(io: CommandIo, flags: SyncFlags, level: string): Logger {
  const tty = io.stderr.isTTY === true;
  // On a terminal the progress bar and summary speak; logs show warnings unless asked.
  const effective =
    tty && flags.logLevel === undefined && io.env.LOG_LEVEL === undefined ? 'warn' : level;
  return createLogger({ level: effective as 'info', pretty: tty });
}

function makeContext(
  io: CommandIo,
  settings: Settings,
  logger: Logger,
  flags: SyncFlags,
): SyncContext {
  const s3Logger = logger.child({ component: 's3' });
  const store = new S3ObjectStore({
    config: settings.s3,
    logger: s3Logger,
    maxSockets: Math.max(64, settings.sync.concurrency * 2),
    onRetry: logRetries(s3Logger),
  });
  const state = new SyncState({
    stateDir: settings.sync.stateDir,
    endpoint: settings.s3.endpoint ?? 'aws',
    bucket: settings.s3.bucket,
    logger,
  });
  const showBar = io.stderr.isTTY === true && !flags.json;
  return {
    store,
    state,
    logger,
    workspacesDir: settings.sync.workspacesDir,
    concurrency: settings.sync.concurrency,
    maxDelete: settings.sync.maxDelete,
    extraExcludes: settings.sync.extraExcludes,
    deleteMissingWorkspaces: settings.sync.deleteMissingWorkspaces,
    trash: {
      retentionMs: settings.sync.trashRetention,
      entries: new TrashEntries({ reuseWithinMs: TRASH_ENTRY_REUSE_MS }),
    },
    clock: systemClock,
    progress: showBar ? terminalProgress(io.stderr) : noProgress,
    signal: io.signal,
  };
}

function exitCodeOf(summary: SyncSummary): number {
  if (summary.refusals.length > 0) return EXIT.refused;
  if (summary.failed > 0) return EXIT.failures;
  return EXIT.ok;
}

function report(
  io: CommandIo,
  flags: SyncFlags,
  summary: SyncSummary,
  plan: string | undefined,
  planLines: unknown[],
): void {
  if (flags.json) {
    io.stdout.write(
      `${JSON.stringify(summary.dryRun ? { ...summary, plan: planLines } : summary)}\n`,
    );
  } else {
    if (plan) io.stdout.write(`${plan}\n`);
    io.stdout.write(`${formatSummary(summary)}\n`);
  }
  io.setExitCode(exitCodeOf(summary));
}

/**
 * Settings, logger, store and state for one command; `lock` names the
 * command when it changes the bucket or the tree (one such run at a time per
 * bucket, see sync-lock.ts).
 */
async function withContext(
  io: CommandIo,
  flags: SyncFlags,
  fn: (ctx: SyncContext, settings: Settings) => Promise<void>,
  lock?: string,
): Promise<void> {
  keepHeapSmall();
  const settings = loadSyncSettings(io.env, flags);
  const logger = makeLogger(io, flags, settings.sync.logLevel);
  logEffectiveConfig(logger, {
    s3: loggableS3Config(settings.s3),
    sync: redactSecrets(SYNC_SETTINGS, settings.sync),
  });
  const ctx = makeContext(io, settings, logger, flags);
  const held =
    lock === undefined || flags.dryRun === true
      ? undefined
      : await SyncLock.acquire({
          dir: ctx.state.dir,
          holder: { command: lock, workspacesDir: ctx.workspacesDir },
          now: new Date(),
          logger,
        });
  try {
    await fn(ctx, settings);
  } finally {
    ctx.progress.stop();
    ctx.store.destroy();
    await held?.release();
  }
}

/** The mount and monitor hints (MOUNT_RC_URL, MONITOR_URL) these settings ask for. */
function hintsFor(settings: Settings, logger: Logger): ChangeHints | undefined {
  return changeHints(settings.sync, settings.s3.credentials?.secretAccessKey, logger);
}

/** After a one-shot sync that changed the bucket, tell the mount and the monitor (bounded by the clients' timeouts). */
async function notifyMonitor(
  settings: Settings,
  ctx: SyncContext,
  changed: readonly string[],
  dryRun: boolean,
): Promise<void> {
  if (dryRun || changed.length === 0) return;
  await hintsFor(settings, ctx.logger)?.notifyChanged(changed);
}

function runOptions(flags: SyncFlags, only?: string): RunOptions {
  return {
    only,
    dryRun: flags.dryRun === true,
    noDelete: flags.delete === false,
    force: flags.force === true,
  };
}

export function syncCommand(io: CommandIo): Command {
  const sync = addSyncOptions(new Command('sync'))
    .description(
      'sync every workspace in WORKSPACES_DIR to the bucket (filtered by default excludes, .gitignore, .dockerignore, .syncignore)',
    )
    .action(async (_opts, cmd: Command) => {
      const flags = cmd.opts<SyncFlags>();
      await withContext(
        io,
        flags,
        async (ctx, settings) => {
          const res = await pushSync(ctx, runOptions(flags));
          report(io, flags, res.summary, flags.dryRun ? formatPlan(res.plan) : undefined, res.plan);
          await notifyMonitor(settings, ctx, res.changed, flags.dryRun === true);
        },
        'sync',
      );
    });

  addSyncOptions(sync.command('workspace'))
    .description('sync one workspace')
    .argument('<name>', 'workspace (directory name under WORKSPACES_DIR)')
    .action(async (name: string, _opts, cmd: Command) => {
      const flags = cmd.optsWithGlobals<SyncFlags>();
      assertWorkspaceArgument(name);
      await withContext(
        io,
        flags,
        async (ctx, settings) => {
          const res = await pushSync(ctx, runOptions(flags, name));
          report(io, flags, res.summary, flags.dryRun ? formatPlan(res.plan) : undefined, res.plan);
          await notifyMonitor(settings, ctx, res.changed, flags.dryRun === true);
        },
        `sync workspace ${name}`,
      );
    });

  addSyncOptions(sync.command('watch'))
    .description('a full sync, then follow changes until stopped (SIGINT/SIGTERM)')
    .action(async (_opts, cmd: Command) => {
      const flags = cmd.optsWithGlobals<SyncFlags>();
      if (flags.dryRun)
        throw new BucketspaceError(
          'USAGE',
          'watch does not take --dry-run; run `sync --dry-run` to see the plan',
        );
      await withContext(
        io,
        flags,
        async (ctx, settings) => {
          const { SyncWatcher } = await import('./watch/sync-watcher.ts');
          const hints = hintsFor(settings, ctx.logger);
          const watcher = new SyncWatcher({
            ctx: { ...ctx, progress: noProgress },
            run: runOptions(flags),
            reconcileIntervalMs: settings.sync.reconcileInterval,
            debounceMs: settings.sync.debounce,
            shutdownTimeoutMs: settings.sync.shutdownTimeout,
            ...(hints ? { notifier: hints } : {}),
          });
          await watcher.start();
          io.stderr.write(
            `watching ${settings.sync.workspacesDir} -> ${ctx.store.description} (Ctrl-C to stop)\n`,
          );
          await new Promise<void>((resolveStop) => {
            if (io.signal.aborted) resolveStop();
            io.signal.addEventListener('abort', () => resolveStop(), { once: true });
          });
          await watcher.stop();
          hints?.close();
          io.setExitCode(EXIT.ok);
        },
        'sync watch',
      );
    });

  addSyncOptions(sync.command('pull'))
    .description(
      'bucket back to local (rollback, migration), same filters and safety rails; replaced and deleted local files are moved to WORKSPACES_DIR/.bucketspace-backup/',
    )
    .argument('[name]', 'only this workspace')
    .action(async (name: string | undefined, _opts, cmd: Command) => {
      const flags = cmd.optsWithGlobals<SyncFlags>();
      if (name !== undefined) assertWorkspaceArgument(name);
      await withContext(
        io,
        flags,
        async (ctx) => {
          const { pullSync } = await import('./pull.ts');
          const res = await pullSync(ctx, runOptions(flags, name));
          report(io, flags, res.summary, flags.dryRun ? formatPlan(res.plan) : undefined, res.plan);
        },
        'sync pull',
      );
    });

  sync
    .command('explain')
    .description(
      'say which rule includes or excludes a path, and from which file (like git check-ignore -v)',
    )
    .argument(
      '<path>',
      'a path inside a workspace (absolute, or relative to the current directory)',
    )
    .option('--workspaces-dir <dir>', 'local workspaces directory (WORKSPACES_DIR)')
    .option('--exclude <pattern...>', 'extra gitignore-style exclude patterns')
    .action(async (path: string, _opts, cmd: Command) => {
      const flags = cmd.optsWithGlobals<SyncFlags>();
      const [, sync2] = resolveAll({}, SYNC_SETTINGS, {
        env: io.env,
        flags: { workspacesDir: flags.workspacesDir, extraExcludes: flags.exclude },
      });
      io.stdout.write(`${await explain(sync2.workspacesDir, path, sync2.extraExcludes)}\n`);
      io.setExitCode(EXIT.ok);
    });

  addTrashCommands(sync, {
    io,
    addSyncOptions,
    withContext,
    runOptions,
    notifyMonitor: (settings, ctx, changed) => notifyMonitor(settings, ctx, changed, false),
  });

  return sync;
}

/** `sync explain`: the deciding rule for a path, git check-ignore -v style, then in words. */
export async function explain(
  workspacesDir: string,
  path: string,
  extraExcludes: readonly string[],
): Promise<string> {
  const abs = isAbsolute(path) ? path : resolve(path);
  const rel = relative(workspacesDir, abs);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new BucketspaceError('USAGE', `${abs} is not inside WORKSPACES_DIR (${workspacesDir})`);
  }
  const parts = rel.split(sep);
  const workspace = parts[0] ?? '';
  const inner = parts.slice(1).join('/');
  if (inner === '')
    return `${workspace}: a workspace (every directory directly under ${workspacesDir} is one)`;
  const isDirectory = await stat(abs).then(
    (s) => s.isDirectory(),
    () => path.endsWith('/'),
  );
  const filter = await WorkspaceFilter.load({
    root: resolve(workspacesDir, workspace),
    extraExcludes,
  });
  const why = await explainAfterEntering(filter, inner, isDirectory);
  const shown = `${workspace}/${inner}${isDirectory ? '/' : ''}`;
  const ruleText = formatRule(why.rule);
  if (why.ignored) {
    const via =
      why.excludedAncestor !== undefined
        ? ` because its directory ${workspace}/${why.excludedAncestor} is excluded`
        : '';
    return `${ruleText}\t${shown}\nexcluded${via}: rule "${why.rule?.pattern}" in ${why.rule?.source} line ${why.rule?.line}`;
  }
  if (why.rule) {
    return `${ruleText}\t${shown}\nincluded: re-included by "${why.rule.pattern}" in ${why.rule.source} line ${why.rule.line}`;
  }
  return `::\t${shown}\nincluded: no rule matches it`;
}
