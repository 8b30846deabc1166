// The `bucketspace` program: subcommands, signals, exit codes (started by cli.ts).
import { Command, CommanderError } from 'commander';
import { errorMessage } from './common/errors.ts';
import { EXIT, exitCodeFor } from './common/exit-codes.ts';
import { monitorCommand } from './monitor/monitor-command.ts';
import { syncCommand, type CommandIo } from './sync/sync-command.ts';

export function buildProgram(io: CommandIo): Command {
  const program = new Command('bucketspace')
    .description('Project workspaces kept in S3/MinIO, each run in its own disposable container.')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .showHelpAfterError('(run with --help for usage)');
  program.addCommand(syncCommand(io));
  program.addCommand(monitorCommand(io));
  for (const cmd of program.commands) {
    cmd.exitOverride();
    for (const sub of cmd.commands) sub.exitOverride();
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
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
    await buildProgram(io).parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    process.stderr.write(`bucketspace: ${errorMessage(err)}\n`);
    return exitCodeFor(err);
  }
  return exitCode;
}
