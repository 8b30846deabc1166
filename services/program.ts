// The `bucketspace` program (and the `mount-bucket` / `unmount-bucket` bins):
// subcommands, signals, exit codes (started by cli.ts and the bin entry files).
import { Command, CommanderError } from 'commander';
import { errorMessage } from './common/errors.ts';
import { EXIT, exitCodeFor } from './common/exit-codes.ts';
import type { CommandIo } from './common/command-io.ts';

/**
 * The subcommands, each loaded only when it runs (or for the top-level help):
 * `bucketspace sync` never loads the monitor's HTTP server, Docker client or
 * mount manager, which would cost the sync daemon tens of MiB.
 */
const SUBCOMMANDS: readonly { name: string; load: () => Promise<(io: CommandIo) => Command> }[] = [
  { name: 'sync', load: async () => (await import('./sync/sync-command.ts')).syncCommand },
  {
    name: 'monitor',
    load: async () => (await import('./monitor/monitor-command.ts')).monitorCommand,
  },
  { name: 'mount', load: async () => (await import('./mounts/mount-command.ts')).mountCommand },
  { name: 'stack', load: async () => (await import('./stack/stack-command.ts')).stackCommand },
  { name: 'mirror', load: async () => (await import('./mirror/mirror-command.ts')).mirrorCommand },
];

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

/** The flags that print the version: they need no subcommand. */
const VERSION_FLAGS = new Set(['-V', '--version']);

/**
 * The program with the subcommand `argv` names, none for `--version`, or
 * every subcommand otherwise (the top-level help lists them).
 */
export async function buildProgram(io: CommandIo, argv: readonly string[] = []): Promise<Command> {
  const program = new Command('bucketspace')
    .description('Project workspaces kept in S3/MinIO, each run in its own disposable container.')
    .version('0.1.0');
  const named = SUBCOMMANDS.filter((c) => c.name === argv[0]);
  const loaded = named.length > 0 ? named : VERSION_FLAGS.has(argv[0] ?? '') ? [] : SUBCOMMANDS;
  for (const sub of loaded) program.addCommand((await sub.load())(io));
  return configure(program, io);
}

async function run(
  name: string,
  build: (io: CommandIo, argv: readonly string[]) => Command | Promise<Command>,
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
    await (await build(io, argv)).parseAsync(argv, { from: 'user' });
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
