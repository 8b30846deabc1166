// The `bucketspace` program (and the `mount-bucket` / `unmount-bucket` bins):
// subcommands, signals, exit codes (started by cli.ts and the bin entry files).
import { Command, CommanderError } from 'commander';
import { errorMessage } from './common/errors.ts';
import { EXIT, exitCodeFor } from './common/exit-codes.ts';
import type { CommandIo } from './common/command-io.ts';

/**
 * Each subcommand's module, loaded when that subcommand runs (all of them
 * for the overall help): `bucketspace mirror` in a shell pipeline starts in
 * half the time when it does not load the monitor's Docker client and web server.
 */
const SUBCOMMANDS: Record<string, () => Promise<(io: CommandIo) => Command>> = {
  sync: () => import('./sync/sync-command.ts').then((m) => m.syncCommand),
  monitor: () => import('./monitor/monitor-command.ts').then((m) => m.monitorCommand),
  mount: () => import('./mounts/mount-command.ts').then((m) => m.mountCommand),
  stack: () => import('./stack/stack-command.ts').then((m) => m.stackCommand),
  mirror: () => import('./mirror/mirror-command.ts').then((m) => m.mirrorCommand),
};

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

/** The program with the subcommand `argv` names, or with every one (help, version, a typo). */
export async function buildProgram(io: CommandIo, argv: readonly string[] = []): Promise<Command> {
  const program = new Command('bucketspace')
    .description('Project workspaces kept in S3/MinIO, each run in its own disposable container.')
    .version('0.1.0');
  const first = argv[0];
  const one = first !== undefined && Object.hasOwn(SUBCOMMANDS, first);
  const loads = Object.entries(SUBCOMMANDS).filter(([name]) => !one || name === first);
  for (const make of await Promise.all(loads.map(([, load]) => load())))
    program.addCommand(make(io));
  return configure(program, io);
}

async function run(
  name: string,
  build: (io: CommandIo) => Command | Promise<Command>,
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
    await (await build(io)).parseAsync(argv, { from: 'user' });
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
  return run('bucketspace', (io) => buildProgram(io, argv), argv);
}

export async function mountBucketMain(argv: string[]): Promise<number> {
  const { mountBucketProgram } = await import('./mounts/bucket-bins.ts');
  return run('mount-bucket', (io) => configure(mountBucketProgram(io), io), argv);
}

export async function unmountBucketMain(argv: string[]): Promise<number> {
  const { unmountBucketProgram } = await import('./mounts/bucket-bins.ts');
  return run('unmount-bucket', (io) => configure(unmountBucketProgram(io), io), argv);
}
