// The `bucketspace` program (and the `mount-bucket` / `unmount-bucket` bins):
// subcommands, signals, exit codes (started by cli.ts and the bin entry files).
import { Command, CommanderError } from 'commander';
import { errorMessage } from './common/errors.ts';
import { EXIT, exitCodeFor } from './common/exit-codes.ts';
import { mirrorCommand } from './mirror/mirror-command.ts';
import { monitorCommand } from './monitor/monitor-command.ts';
import { mountCommand } from './mounts/mount-command.ts';
import { stackCommand } from './stack/stack-command.ts';
import type { CommandIo } from './common/command-io.ts';
import { syncCommand } from './sync/sync-command.ts';

function configure(program: Command, io: CommandIo): Command {
  program
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .showHelpAfterError('(run with --help for usage)');
  const all = (cmd: Command): void => {
    for (const sub of cmd.commands) {
      sub.exitOverride();
      all(sub);
    }
  };
  all(program);
  return program;
}

export function buildProgram(io: CommandIo): Command {
  const program = new Command('bucketspace')
    .description('Project workspaces kept in S3/MinIO, each run in its own disposable container.')
    .version('0.1.0');
  program.addCommand(syncCommand(io));
  program.addCommand(monitorCommand(io));
  program.addCommand(mountCommand(io));
  program.addCommand(stackCommand(io));
  program.addCommand(mirrorCommand(io));
  return configure(program, io);
}

async function run(
  name: string,
  build: (io: CommandIo) => Command,
  argv: string[],
): Promise<number> {
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) process.exit(130);
    process.stderr.write(`\n${sig}: stopping (again to force)\n`);
    controller.abort(new Error(sig));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let exitCode: number = EXIT.ok;
  const io: CommandIo = {
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    signal: controller.signal,
    setExitCode: (code) => {
      exitCode = code;
    },
  };
  try {
    await build(io).parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    process.stderr.write(`${name}: ${errorMessage(err)}\n`);
    return exitCodeFor(err);
  }
  return exitCode;
}

export function main(argv: string[]): Promise<number> {
  return run('bucketspace', buildProgram, argv);
}

export async function mountBucketMain(argv: string[]): Promise<number> {
  const { mountBucketProgram } = await import('./mounts/bucket-bins.ts');
  return run('mount-bucket', (io) => configure(mountBucketProgram(io), io), argv);
}

export async function unmountBucketMain(argv: string[]): Promise<number> {
  const { unmountBucketProgram } = await import('./mounts/bucket-bins.ts');
  return run('unmount-bucket', (io) => configure(unmountBucketProgram(io), io), argv);
}
