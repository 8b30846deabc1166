import { Command } from 'commander';
import { BucketspaceError } from '../common/errors.ts';
import type { CommandIo } from '../common/command-io.ts';
import {
  addInput,
  listAction,
  printMounted,
  printUnmounted,
  statusAction,
  withMounts,
  type MountFlags,
} from './mount-actions.ts';
import { addCommonMountOptions, addMountingOptions } from './mount-command.ts';

interface MountBucketFlags extends MountFlags {
  status?: string;
  list?: boolean;
}

/** `mount-bucket`, the seed's command: mount, `--status <bucket>`, `--list`. */
export function mountBucketProgram(io: CommandIo): Command {
  return addCommonMountOptions(addMountingOptions(new Command('mount-bucket')))
    .description(
      'mount a bucket once (at MOUNT_DIR/<bucket>) and link <root>/<bucket> to it; again with another --root adds a link',
    )
    .argument('[bucket]', 'bucket name or s3://bucket')
    .option('--status <bucket>', 'is it mounted and answering? (exit code 0 when it is)')
    .option('--list', 'list every mount')
    .option('--json', 'print JSON')
    .action(async (bucket: string | undefined, _opts, cmd: Command) => {
      const flags = cmd.opts<MountBucketFlags>();
      if (flags.list) return listAction(io, flags);
      if (flags.status !== undefined) return statusAction(io, flags, flags.status);
      if (bucket === undefined) {
        throw new BucketspaceError('USAGE', 'name a bucket: mount-bucket <bucket> [--root DIR]');
      }
      await withMounts(io, flags, async ({ manager }) => {
        printMounted(io, await manager.add(addInput(bucket, flags)), flags.json);
      });
    });
}

/** `unmount-bucket <bucket>`: unmount, remove every link still pointing at it, forget it. */
export function unmountBucketProgram(io: CommandIo): Command {
  return addCommonMountOptions(new Command('unmount-bucket'))
    .description('unmount a bucket, remove every link that still points at it, and forget it')
    .argument('<bucket>', 'bucket name or s3://bucket')
    .option('--force', 'lazy unmount even while files are open in it')
    .option('--json', 'print the result as JSON')
    .action(async (bucket: string, _opts, cmd: Command) => {
      const flags = cmd.opts<MountFlags>();
      await withMounts(io, flags, async ({ manager }) => {
        const res = await manager.remove(bucket, { force: flags.force });
        printUnmounted(io, bucket.replace(/^s3:\/\//i, ''), res, 'unmounted', flags.json);
      });
    });
}
