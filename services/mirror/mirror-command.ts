// `bucketspace mirror download|upload|sync|ls`: the mirror library for shell pipelines.
import { Command } from 'commander';
import type { CommandIo } from '../common/command-io.ts';
import { asBucketspaceError } from '../common/errors.ts';
import { EXIT } from '../common/exit-codes.ts';
import { logLevelOption } from '../common/cli-options.ts';
import { createLogger } from '../common/logger.ts';
import { tuneHeapForTransfers } from '../common/small-heap.ts';
import type { Mirror } from './mirror.ts';
import { resolveMirrorSettings } from './mirror-settings.ts';
import type { MirrorEvent, MirrorReport } from './types.ts';

interface MirrorFlags {
  local?: string;
  delete?: boolean;
  deleteLocal?: boolean;
  deleteRemote?: boolean;
  exclude?: string[];
  force?: boolean;
  interval?: string;
  recursive?: boolean;
  json?: boolean;
  progress?: boolean;
  cacheRoot?: string;
  maxWorkers?: string;
  maxDelete?: string;
  endpoint?: string;
  region?: string;
  logLevel?: string;
}

function addCommonOptions(cmd: Command): Command {
  return cmd
    .option('--json', 'print what was done as JSON on stdout (the local path and each run)')
    .option('--no-progress', 'no progress bars (there are none unless stderr is a terminal)')
    .option('--cache-root <dir>', 'local copies under <dir>/<bucket>/<key> (MIRROR_CACHE_ROOT)')
    .option('--max-workers <n>', 'transfers at once (MIRROR_MAX_WORKERS)')
    .option('--max-delete <n|n%>', 'most deletions in one run (MIRROR_MAX_DELETE)')
    .option('--endpoint <url>', 'S3 endpoint (S3_ENDPOINT)')
    .option('--region <region>', 'region (S3_REGION)')
    .addOption(logLevelOption('log level (LOG_LEVEL; default warn)'));
}

function addTransferOptions(cmd: Command): Command {
  return addCommonOptions(cmd)
    .argument('<remote>', 's3://bucket/key: a prefix or one object')
    .option('--local <path>', 'the local path (default <cache root>/<bucket>/<key>)')
    .option('--exclude <pattern...>', 'gitignore-style patterns left alone on both sides')
    .option('--force', 'delete although a safety rail refused (says which)');
}

const INTERVAL_HELP =
  'upload this often in the background (30s, 5m) until SIGINT/SIGTERM, then once more; without it, upload once';

/** A run's outcome for --json, and every report the mirror told of. */
interface Outcome {
  local?: string;
  reports: MirrorReport[];
  error?: { code: string; message: string };
}

/**
 * Opens the mirror of one command with the settings (environment, then
 * flags), runs `fn`, closes it (the last uploads), prints the outcome and
 * sets the exit code; errors are rethrown for main to print.
 */
async function withCommandMirror(
  io: CommandIo,
  flags: MirrorFlags,
  fn: (m: Mirror, outcome: Outcome) => Promise<void>,
): Promise<void> {
  tuneHeapForTransfers();
  const settings = resolveMirrorSettings({
    env: io.env,
    s3: {
      ...(flags.endpoint !== undefined ? { endpoint: flags.endpoint } : {}),
      ...(flags.region !== undefined ? { region: flags.region } : {}),
    },
    mirror: {
      cacheRoot: flags.cacheRoot,
      maxWorkers: flags.maxWorkers,
      maxDelete: flags.maxDelete,
    },
    ...(flags.logLevel !== undefined ? { logLevel: flags.logLevel } : {}),
  });
  const logger = createLogger({
    level: settings.logLevel ?? 'warn',
    pretty: io.stderr.isTTY === true,
  });
  const outcome: Outcome = { reports: [] };
  const { openMirror } = await import('./mirror.ts');
  const m = await openMirror({
    settings,
    logger,
    progressStream: flags.progress === false || flags.json === true ? undefined : io.stderr,
    onEvent: (e: MirrorEvent) => {
      if (e.type === 'end') outcome.reports.push(e.report);
    },
  });
  try {
    try {
      await fn(m, outcome);
    } finally {
      await m.close();
    }
  } catch (err) {
    const e = asBucketspaceError(err);
    outcome.error = { code: e.code, message: e.message };
    throw e;
  } finally {
    if (flags.json) io.stdout.write(`${JSON.stringify(outcome)}\n`);
  }
  io.setExitCode(EXIT.ok);
}

/** Until SIGINT or SIGTERM (main aborts io.signal). */
function untilStopped(io: CommandIo): Promise<void> {
  return new Promise((resolve) => {
    if (io.signal.aborted) resolve();
    else io.signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** Prints the local path (unless --json), then keeps running until stopped when there is an interval. */
async function afterRegistering(
  io: CommandIo,
  flags: MirrorFlags,
  outcome: Outcome,
  local: string,
  remote: string,
): Promise<void> {
  outcome.local = local;
  if (!flags.json) io.stdout.write(`${local}\n`);
  if (flags.interval === undefined) return;
  io.stderr.write(
    `uploading ${local} -> ${remote} every ${flags.interval} (SIGINT/SIGTERM: one last upload, then exit)\n`,
  );
  await untilStopped(io);
}

export function mirrorCommand(io: CommandIo): Command {
  const mirror = new Command('mirror').description(
    'local copies of S3 paths for pipelines (the bucketspace/mirror library as a command)',
  );

  addTransferOptions(mirror.command('download'))
    .description('make the local path match S3 and print it')
    .option('--no-delete', 'keep local files that S3 does not have')
    .action(async (remote: string, _opts, cmd: Command) => {
      const flags = cmd.opts<MirrorFlags>();
      await withCommandMirror(io, flags, async (m, outcome) => {
        outcome.local = await m.download(remote, {
          ...selection(flags),
          delete: flags.delete !== false,
          signal: io.signal,
        });
        if (!flags.json) io.stdout.write(`${outcome.local}\n`);
      });
    });

  addTransferOptions(mirror.command('upload'))
    .description('upload the local path to S3 (print it first); with --interval, keep uploading')
    .option('--interval <duration>', INTERVAL_HELP)
    .option('--no-delete', 'keep objects that the local path does not have')
    .action(async (remote: string, _opts, cmd: Command) => {
      const flags = cmd.opts<MirrorFlags>();
      await withCommandMirror(io, flags, async (m, outcome) => {
        const local = await m.upload(remote, {
          ...selection(flags),
          interval: flags.interval ?? null,
          delete: flags.delete !== false,
        });
        await afterRegistering(io, flags, outcome, local, remote);
      });
    });

  addTransferOptions(mirror.command('sync'))
    .description('download, then upload the same path (with --interval, keep uploading)')
    .option('--interval <duration>', INTERVAL_HELP)
    .option('--no-delete-local', 'the download keeps local files that S3 does not have')
    .option('--no-delete-remote', 'the uploads keep objects that the local path does not have')
    .action(async (remote: string, _opts, cmd: Command) => {
      const flags = cmd.opts<MirrorFlags>();
      await withCommandMirror(io, flags, async (m, outcome) => {
        const local = await m.sync(remote, {
          ...selection(flags),
          interval: flags.interval ?? null,
          deleteLocal: flags.deleteLocal !== false,
          deleteRemote: flags.deleteRemote !== false,
          signal: io.signal,
        });
        await afterRegistering(io, flags, outcome, local, remote);
      });
    });

  addCommonOptions(mirror.command('ls'))
    .description('list the URLs one level under a prefix (or every object, --recursive)')
    .argument('<remote>', 's3://bucket/key, or a local path')
    .option('--recursive', 'every object below, not one level')
    .action(async (remote: string, _opts, cmd: Command) => {
      const flags = cmd.opts<MirrorFlags>();
      await withCommandMirror(io, { ...flags, json: false }, async (m) => {
        const urls = await m.ls(remote, { recursive: flags.recursive === true, signal: io.signal });
        io.stdout.write(
          flags.json ? `${JSON.stringify(urls)}\n` : urls.map((u) => `${u}\n`).join(''),
        );
      });
    });

  return mirror;
}

function selection(flags: MirrorFlags) {
  return {
    ...(flags.local !== undefined ? { local: flags.local } : {}),
    ...(flags.exclude !== undefined ? { exclude: flags.exclude } : {}),
    force: flags.force === true,
  };
}
