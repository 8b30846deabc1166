// `npm run bench -- <benchmark> [flags]`: the benchmarks that print side-by-side tables.
import { depsBenchmark } from './deps.ts';
import { BENCH_EXIT, PrerequisiteError, UsageError, type Benchmark } from './lib/bench-exit.ts';
import { ProcessCleanup } from './lib/process-cleanup.ts';
import { memoryBenchmark } from './memory.ts';
import { mirrorBenchmark } from './mirror.ts';
import { serveBenchmark } from './serve.ts';
import { syncBenchmark } from './sync.ts';
import { watchBenchmark } from './watch.ts';

const BENCHMARKS: readonly Benchmark[] = [
  syncBenchmark,
  watchBenchmark,
  memoryBenchmark,
  depsBenchmark,
  mirrorBenchmark,
  serveBenchmark,
];

function help(): string {
  const names = BENCHMARKS.map((b) => `  ${b.name.padEnd(6)} ${b.summary}`);
  return [
    'usage: npm run bench -- <benchmark> [flags]      (or: node bench/run.ts <benchmark> [flags])',
    '',
    'benchmarks:',
    ...names,
    `  ${'all'.padEnd(6)} every benchmark above, in turn, with default flags`,
    '',
    'npm run bench -- <benchmark> --help   shows its flags.',
    '',
    'exit codes: 0 every goal PASSed; 1 a goal FAILed or a correctness check did not hold;',
    '            2 usage error; 3 missing prerequisite (rclone); 4 the benchmark could not finish;',
    '            130 interrupted.',
  ].join('\n');
}

async function runOne(bench: Benchmark, args: string[], cleanup: ProcessCleanup): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${bench.usage}\n`);
    return BENCH_EXIT.ok;
  }
  try {
    return await bench.run(args, { out: process.stdout, cleanup });
  } catch (err) {
    if (cleanup.interrupted) return BENCH_EXIT.interrupted;
    if (err instanceof UsageError) {
      process.stderr.write(`bench ${bench.name}: ${err.message}\n\n${bench.usage}\n`);
      return BENCH_EXIT.usage;
    }
    if (err instanceof PrerequisiteError) {
      process.stderr.write(`bench ${bench.name}: ${err.message}\n`);
      return BENCH_EXIT.missingPrerequisite;
    }
    process.stderr.write(
      `bench ${bench.name} could not finish: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    return BENCH_EXIT.error;
  } finally {
    await cleanup.run();
  }
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${help()}\n`);
    return name === undefined ? BENCH_EXIT.usage : BENCH_EXIT.ok;
  }
  const cleanup = new ProcessCleanup();
  cleanup.install();
  if (name === 'all') {
    if (args.length > 0) {
      process.stderr.write(
        `bench all takes no flags (got ${args.join(' ')}); run the benchmarks one by one to pass flags\n`,
      );
      return BENCH_EXIT.usage;
    }
    let worst: number = BENCH_EXIT.ok;
    for (const bench of BENCHMARKS) {
      const code = await runOne(bench, [], cleanup);
      worst = Math.max(worst, code);
    }
    return worst;
  }
  const bench = BENCHMARKS.find((b) => b.name === name);
  if (!bench) {
    process.stderr.write(
      `unknown benchmark "${name}"; choose one of: ${[...BENCHMARKS.map((b) => b.name), 'all'].join(', ')}\n\n${help()}\n`,
    );
    return BENCH_EXIT.usage;
  }
  return runOne(bench, args, cleanup);
}

process.exitCode = await main(process.argv.slice(2));
