import { EXIT } from '../common/exit-codes.ts';
import { createLogger, type Logger } from '../common/logger.ts';
import type { CommandIo } from '../common/command-io.ts';
import { loadMountSettings, openMountContext, type MountContext } from './mount-context.ts';
import type { AddInput, MountResult, UnmountResult } from './mount-manager.ts';
import { formatMountList, formatMountStatus } from './mount-report.ts';

/** Flags shared by `bucketspace mount ...`, `mount-bucket` and `unmount-bucket`. */
export interface MountFlags {
  root?: string[];
  readOnly?: boolean;
  auto?: boolean;
  engine?: string;
  cacheMode?: string;
  cacheSize?: string;
  dirCache?: string;
  exclude?: string[];
  remote?: string;
  start?: boolean;
  force?: boolean;
  json?: boolean;
  mountDir?: string;
  registry?: string;
  endpoint?: string;
  region?: string;
  logLevel?: string;
}

function makeLogger(io: CommandIo, flags: MountFlags, level: string, quiet: boolean): Logger {
  const tty = io.stderr.isTTY === true;
  // On a terminal (and for one-shot commands) the printed result speaks; logs show warnings unless asked.
  const asked = flags.logLevel !== undefined || io.env.LOG_LEVEL !== undefined;
  const effective = !asked && (tty || quiet) ? 'warn' : level;
  return createLogger({ level: effective as 'info', pretty: tty });
}

/** Open the registry and manager for one command, run `fn`, close. */
export async function withMounts(
  io: CommandIo,
  flags: MountFlags,
  fn: (ctx: MountContext, logger: Logger) => Promise<void>,
  options: { quiet?: boolean } = {},
): Promise<void> {
  const settingFlags = {
    mountDir: flags.mountDir,
    registry: flags.registry,
    engine: flags.engine,
    rcloneRemote: flags.remote,
    endpoint: flags.endpoint,
    region: flags.region,
    logLevel: flags.logLevel,
  };
  // Settings first (a bad value fails before anything is opened), logger from them.
  const { settings } = loadMountSettings({ env: io.env, flags: settingFlags });
  const logger = makeLogger(io, flags, settings.logLevel, options.quiet !== false);
  const ctx = openMountContext({ env: io.env, flags: settingFlags, logger });
  try {
    await fn(ctx, logger);
  } finally {
    ctx.close();
  }
}

export function addInput(bucket: string, flags: MountFlags): AddInput {
  return {
    bucket,
    roots: flags.root,
    readOnly: flags.readOnly,
    auto: flags.auto,
    engine: flags.engine,
    cacheMode: flags.cacheMode,
    cacheSize: flags.cacheSize,
    dirCache: flags.dirCache,
    excludes: flags.exclude,
    remote: flags.remote,
    start: flags.start,
  };
}

export function printMounted(io: CommandIo, result: MountResult, json: boolean | undefined): void {
  const rec = result.record;
  if (json) {
    io.stdout.write(`${JSON.stringify(result)}\n`);
  } else if (rec.state === 'stopped') {
    io.stdout.write(
      `recorded s3://${rec.bucket} (not mounted); mount it with \`bucketspace mount start ${rec.bucket}\`\n`,
    );
  } else {
    io.stdout.write(
      `mounted s3://${rec.bucket} at ${rec.mountPoint} (${rec.engine}${rec.pid !== null ? `, pid ${rec.pid}` : ''})\n`,
    );
    for (const l of rec.links) io.stdout.write(`  ${l.path} -> ${rec.mountPoint}\n`);
  }
  for (const p of result.problems) io.stderr.write(`warning: ${p}\n`);
  io.setExitCode(result.problems.length > 0 ? EXIT.failures : EXIT.ok);
}

export function printUnmounted(
  io: CommandIo,
  bucket: string,
  result: UnmountResult,
  verb: string,
  json: boolean | undefined,
): void {
  if (json) {
    io.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const n = result.removedLinks.length;
    io.stdout.write(`${verb} s3://${bucket}; removed ${n} link${n === 1 ? '' : 's'}\n`);
  }
  for (const p of result.leftAlone) io.stderr.write(`warning: ${p}\n`);
  io.setExitCode(EXIT.ok);
}

export async function listAction(io: CommandIo, flags: MountFlags): Promise<void> {
  await withMounts(io, flags, async ({ manager }) => {
    // A live check of every mount that should be up, so the list tells the truth now.
    for (const rec of manager.list()) if (rec.state !== 'stopped') await manager.status(rec.bucket);
    const records = manager.list();
    io.stdout.write(flags.json ? `${JSON.stringify(records)}\n` : `${formatMountList(records)}\n`);
    io.setExitCode(EXIT.ok);
  });
}

export async function statusAction(
  io: CommandIo,
  flags: MountFlags,
  bucket: string,
): Promise<void> {
  await withMounts(io, flags, async ({ manager }) => {
    const { record, health } = await manager.status(bucket);
    const events = manager.events(record.bucket, 10);
    io.stdout.write(
      flags.json
        ? `${JSON.stringify({ ...record, check: health, events })}\n`
        : `${formatMountStatus(record, health, events)}\n`,
    );
    io.setExitCode(health.healthy ? EXIT.ok : EXIT.failures);
  });
}
