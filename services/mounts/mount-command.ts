import { Command, Option } from 'commander';
import { logLevelOption } from '../common/cli-options.ts';
import { EXIT } from '../common/exit-codes.ts';
import type { CommandIo } from '../common/command-io.ts';
import type { MountFlags } from './mount-actions.ts';
import { CACHE_MODES, ENGINE_NAMES } from './types.ts';

/** Options every mount command takes (settings overrides). */
export function addCommonMountOptions(cmd: Command): Command {
  return cmd
    .option('--mount-dir <dir>', 'where buckets are really mounted (MOUNT_DIR)')
    .option('--registry <file>', 'the mount registry (MOUNT_REGISTRY)')
    .option('--endpoint <url>', 'S3 endpoint (S3_ENDPOINT)')
    .option('--region <region>', 'region (S3_REGION)')
    .addOption(logLevelOption());
}

/** Options that say how to mount (add, and the mount-bucket bin). */
export function addMountingOptions(cmd: Command): Command {
  return cmd
    .option(
      '--root <dir...>',
      'make <dir>/<bucket> a link to the mount (repeatable; default MOUNT_DEFAULT_ROOT)',
    )
    .option('--read-only', 'mount read-only')
    .option('--auto', 'mount it whenever `bucketspace mount daemon` starts')
    .addOption(new Option('--engine <engine>', 'FUSE client (MOUNT_ENGINE)').choices(ENGINE_NAMES))
    .addOption(
      new Option('--cache-mode <mode>', 'local cache (default writes)').choices(CACHE_MODES),
    )
    .option('--cache-size <size>', 'most the local cache may hold, e.g. 1G (rclone)')
    .option('--dir-cache <duration>', 'how long listings are cached, e.g. 1m')
    .option('--exclude <pattern...>', 'hide paths matching these rclone filter patterns (rclone)')
    .option(
      '--remote <name>',
      'mount from this rclone remote instead of the S3 settings (MOUNT_RCLONE_REMOTE)',
    );
}

/** Loaded when a mount command runs, so `bucketspace sync` does not pay for SQLite and friends. */
const actions = () => import('./mount-actions.ts');

export function mountCommand(io: CommandIo): Command {
  const mount = new Command('mount').description(
    'mount buckets with FUSE (rclone or s3fs): one mount per bucket, any number of links to it, kept healthy by `mount daemon`',
  );

  addCommonMountOptions(addMountingOptions(mount.command('add')))
    .description('record a mount and mount it; again with another --root adds a link, not a mount')
    .argument('<bucket>', 'bucket name or s3://bucket')
    .option('--no-start', 'only record it (mount later with `mount start` or the daemon)')
    .option('--json', 'print the mount as JSON')
    .action(async (bucket: string, _opts, cmd: Command) => {
      const flags = cmd.optsWithGlobals<MountFlags>();
      const { addInput, printMounted, withMounts } = await actions();
      await withMounts(io, flags, async ({ manager }) => {
        printMounted(io, await manager.add(addInput(bucket, flags)), flags.json);
      });
    });

  addCommonMountOptions(mount.command('start'))
    .description('mount a recorded bucket and make its links')
    .argument('<bucket>', 'bucket name or s3://bucket')
    .option('--json', 'print the mount as JSON')
    .action(async (bucket: string, _opts, cmd: Command) => {
      const flags = cmd.optsWithGlobals<MountFlags>();
      const { printMounted, withMounts } = await actions();
      await withMounts(io, flags, async ({ manager }) => {
        printMounted(io, await manager.start(bucket), flags.json);
      });
    });

  for (const [name, verb, description] of [
    [
      'stop',
      'unmounted',
      'unmount and remove its links (still recorded: `mount start` brings both back)',
    ],
    ['remove', 'removed', 'unmount, remove its links, and forget it'],
  ] as const) {
    addCommonMountOptions(mount.command(name))
      .description(description)
      .argument('<bucket>', 'bucket name or s3://bucket')
      .option('--force', 'lazy unmount even while files are open in it')
      .option('--json', 'print the result as JSON')
      .action(async (bucket: string, _opts, cmd: Command) => {
        const flags = cmd.optsWithGlobals<MountFlags>();
        const { printUnmounted, withMounts } = await actions();
        await withMounts(io, flags, async ({ manager }) => {
          const res =
            name === 'stop'
              ? await manager.stop(bucket, { force: flags.force })
              : await manager.remove(bucket, { force: flags.force });
          printUnmounted(io, bucket.replace(/^s3:\/\//i, ''), res, verb, flags.json);
        });
      });
  }

  addCommonMountOptions(mount.command('list'))
    .description('every mount: state, health (checked now), pid, links')
    .option('--json', 'print JSON')
    .action(async (_opts, cmd: Command) =>
      (await actions()).listAction(io, cmd.optsWithGlobals<MountFlags>()),
    );

  addCommonMountOptions(mount.command('status'))
    .description(
      'one mount in detail, checked now; exit code 0 only when it is mounted and answering',
    )
    .argument('<bucket>', 'bucket name or s3://bucket')
    .option('--json', 'print JSON')
    .action(async (bucket: string, _opts, cmd: Command) =>
      (await actions()).statusAction(io, cmd.optsWithGlobals<MountFlags>(), bucket),
    );

  addCommonMountOptions(mount.command('daemon'))
    .description(
      'mount the --auto mounts, check every mount each MOUNT_HEALTH_INTERVAL, remount stale ones, recreate missing links; unmount everything on SIGTERM',
    )
    .action(async (_opts, cmd: Command) => {
      const flags = cmd.optsWithGlobals<MountFlags>();
      const { withMounts } = await actions();
      const { MountSupervisor } = await import('./mount-supervisor.ts');
      await withMounts(
        io,
        flags,
        async ({ manager, settings }, logger) => {
          const supervisor = new MountSupervisor({
            manager,
            intervalMs: settings.healthIntervalMs,
            logger: logger.child({ component: 'mount-supervisor' }),
          });
          await supervisor.start();
          await new Promise<void>((resolveStop) => {
            if (io.signal.aborted) resolveStop();
            io.signal.addEventListener('abort', () => resolveStop(), { once: true });
          });
          await supervisor.stop();
          io.setExitCode(EXIT.ok);
        },
        { quiet: false },
      );
    });

  return mount;
}
