// `npm run bench -- memory`: bucketspace's memory on a 100,000-file tree (one-shot syncs and `sync watch`).
import type { S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs, wholeNumber } from './lib/bench-args.ts';
import { BENCH_EXIT, PrerequisiteError, type Benchmark, type BenchIo } from './lib/bench-exit.ts';
import { benchBucketName, listObjects, warmUp, type S3Endpoint } from './lib/bench-s3.ts';
import { openTreeAndS3 } from './lib/bench-setup.ts';
import { CommandRunner, describeFailure, type CommandSpec } from './lib/command-runner.ts';
import {
  fmtCount,
  fmtMiB,
  fmtMs,
  fmtRatio,
  fmtSeconds,
  formatTable,
  passFail,
} from './lib/format.ts';
import { machineLines, s3Description } from './lib/machine.ts';
import { sleep, type ProcessCleanup } from './lib/process-cleanup.ts';
import { Random } from './lib/random.ts';
import { findRclone, RCLONE_INSTALL_HINT, RCLONE_REMOTE, rcloneEnv } from './lib/rclone.ts';
import { latencyStats, measureSaves } from './lib/save-latency.ts';
import { planSaves } from './lib/saves.ts';
import { median } from './lib/stats.ts';
import { parseOurSummary } from './lib/sync-runs.ts';
import { bucketspaceEnv, CLI, syncTools, type SyncTarget } from './lib/sync-tools.ts';
import { SCALE_TREE_SPEC, type SyncTree } from './lib/sync-tree.ts';
import type { WatchTree } from './lib/watch-tree.ts';
import { WatcherProcess } from './lib/watcher-process.ts';

const TREE_DIR = fileURLToPath(new URL('../.bench/scale-tree', import.meta.url));
const RUN_TIMEOUT_MS = 30 * 60_000;
const READY_TIMEOUT_MS = 30 * 60_000;
/** The goals of issue 11 §4, in MiB of the process's own resident set. */
const NOOP_GOAL_MIB = 150;
const WATCH_GOAL_MIB = 150;
/** "No growth": the resident set after all edits, at most this much above the one after half of them. */
const GROWTH_TOLERANCE = 1.05;

const USAGE = `usage: npm run bench -- memory [--rebuild] [--reps N] [--edits N]

bucketspace's memory at scale, on a tree of ${fmtCount(SCALE_TREE_SPEC.sourceFiles + SCALE_TREE_SPEC.nodeModulesFiles)} files
(${SCALE_TREE_SPEC.workspaces} workspaces; ${fmtCount(SCALE_TREE_SPEC.sourceFiles)} synced, ${fmtCount(SCALE_TREE_SPEC.nodeModulesFiles)} under node_modules), built once
under .bench/scale-tree: the initial sync and a no-op sync against rclone's fastest
flags (and \`rclone lsf\` of the same bucket, for scale), then \`sync watch\` from an
empty bucket: its resident set once it is watching, and after the edits.

  --rebuild       build the tree again
  --reps N        no-op syncs per tool, median time and highest peak reported (default 3)
  --edits N       saves while watching (default 500), each waited for in the bucket

S3: as for \`bench sync\`. Needs rclone on PATH.`;

interface MemoryBenchOptions {
  rebuild: boolean;
  reps: number;
  edits: number;
}

function parseOptions(args: string[]): MemoryBenchOptions {
  const values = parseBenchArgs(args, {
    rebuild: { type: 'boolean', default: false },
    reps: { type: 'string', default: '3' },
    edits: { type: 'string', default: '500' },
  });
  return {
    rebuild: values.rebuild,
    reps: wholeNumber('reps', values.reps, 1, 20),
    edits: wholeNumber('edits', values.edits, 2, 10_000),
  };
}

interface Sample {
  seconds: number;
  peakKiB: number | undefined;
}

type Column = 'ours' | 'fastest' | 'lsf';

interface Ctx {
  runner: CommandRunner;
  client: S3Client;
  tree: SyncTree;
  ep: S3Endpoint;
  stateRoot: string;
  out: NodeJS.WriteStream;
  problems: string[];
}

async function target(ctx: Ctx, label: string): Promise<SyncTarget> {
  return {
    workspacesDir: ctx.tree.workspacesDir,
    bucket: benchBucketName(`mem-${label}`),
    endpoint: ctx.ep,
    stateDir: await mkdtemp(join(ctx.stateRoot, `${label}-`)),
  };
}

function lsf(t: SyncTarget): CommandSpec {
  return {
    command: 'rclone',
    args: ['lsf', '-R', '--fast-list', '--files-only', `${RCLONE_REMOTE}:${t.bucket}`],
    env: rcloneEnv(t.endpoint),
  };
}

/** One measured run; for bucketspace, its summary must say `uploaded` files and nothing failed. */
async function measure(
  ctx: Ctx,
  label: string,
  spec: CommandSpec,
  uploaded?: number,
): Promise<Sample> {
  const run = await ctx.runner.run(spec, RUN_TIMEOUT_MS);
  if (run.timedOut || run.exitCode !== 0) throw new Error(describeFailure(label, run));
  if (uploaded !== undefined) {
    const s = parseOurSummary(run.stdout);
    if (!s || s.uploaded !== uploaded || s.failed !== 0 || s.deleted !== 0)
      ctx.problems.push(
        `${label}: summary says uploaded ${s?.uploaded}, deleted ${s?.deleted}, failed ${s?.failed}; expected uploaded ${uploaded}, nothing deleted or failed`,
      );
  }
  ctx.out.write(
    `  ${label.padEnd(36)} ${fmtSeconds(run.seconds).padStart(7)} s ${fmtMiB(run.peakRssKiB).padStart(6)} MiB\n`,
  );
  return { seconds: run.seconds, peakKiB: run.peakRssKiB };
}

interface WatchResult {
  readySeconds: number;
  ready: { nowKiB: number; peakKiB: number } | undefined;
  half: { nowKiB: number; peakKiB: number } | undefined;
  end: { nowKiB: number; peakKiB: number } | undefined;
  p50: number;
  p95: number;
  timeouts: number;
  exitCode: number | null;
}

/** The synced files, as saves can use them: existing sources to rewrite, directories for new files. */
async function saveTargets(client: S3Client, bucket: string, dir: string): Promise<WatchTree> {
  const keys = [...(await listObjects(client, bucket)).keys()].sort();
  const workspaces = [...new Set(keys.map((k) => k.slice(0, k.indexOf('/'))))];
  // Every 97th file and its directory: spread over every workspace, the same on every run.
  const sources = keys.filter((_, i) => i % 97 === 0);
  return {
    workspacesDir: dir,
    workspaces,
    sources,
    directories: [...new Set(sources.map(dirname))],
  };
}

async function benchWatch(
  ctx: Ctx,
  edits: number,
  cleanup: ProcessCleanup,
  saveTree: WatchTree,
): Promise<WatchResult> {
  const t = await target(ctx, 'watch');
  const watcher = new WatcherProcess({
    command: process.execPath,
    args: [CLI, 'sync', 'watch'],
    env: { ...bucketspaceEnv(t), LOG_LEVEL: 'info' },
    cleanup,
  });
  const readySeconds = await watcher.ready(READY_TIMEOUT_MS);
  await sleep(2_000); // let the first sync's garbage go
  const ready = await watcher.memory();
  ctx.out.write(
    `  sync watch: watching after ${readySeconds.toFixed(1)} s; resident ${fmtMiB(ready?.nowKiB)} MiB (peak ${fmtMiB(ready?.peakKiB)})\n`,
  );
  const saves = planSaves(saveTree, edits, 'mem', new Random(20261130));
  const half = Math.floor(edits / 2);
  /** Saves, each waited for in the bucket, then the watcher's memory once their garbage can go. */
  const saveThenMeasure = async (batch: typeof saves) => {
    const latencies = await measureSaves({
      label: 'sync watch',
      saves: batch,
      tree: saveTree,
      client: ctx.client,
      bucket: t.bucket,
      intervalMs: 0,
      out: ctx.out,
    });
    await sleep(2_000);
    return { latencies, memory: await watcher.memory() };
  };
  const first = await saveThenMeasure(saves.slice(0, half));
  const second = await saveThenMeasure(saves.slice(half));
  const stop = await watcher.stop(20_000);
  // New files the saves made: gone again, so the cached tree stays as built (rewritten files keep their new content).
  await Promise.all(
    saves
      .filter((s) => s.kind === 'new')
      .map((s) => rm(join(saveTree.workspacesDir, s.key), { force: true })),
  );
  const stats = latencyStats([...first.latencies, ...second.latencies]);
  return {
    readySeconds,
    ready,
    half: first.memory,
    end: second.memory,
    p50: stats.p50,
    p95: stats.p95,
    timeouts: stats.timeouts,
    exitCode: stop.exitCode,
  };
}

function peak(samples: readonly Sample[]): number | undefined {
  const values = samples.flatMap((s) => (s.peakKiB === undefined ? [] : [s.peakKiB]));
  return values.length > 0 ? Math.max(...values) : undefined;
}

function medianSeconds(samples: readonly Sample[]): number | undefined {
  return samples.length > 0 ? median(samples.map((s) => s.seconds)) : undefined;
}

async function run(args: string[], { out, cleanup }: BenchIo): Promise<number> {
  const options = parseOptions(args);
  const rcloneVersion = await findRclone();
  if (!rcloneVersion) throw new PrerequisiteError(RCLONE_INSTALL_HINT);
  const { tree, s3, ep, client } = await openTreeAndS3({
    spec: SCALE_TREE_SPEC,
    dir: TREE_DIR,
    rebuild: options.rebuild,
    out,
    cleanup,
  });
  const stateRoot = await mkdtemp(join(tmpdir(), 'bucketspace-bench-memory-'));
  cleanup.defer(() => rm(stateRoot, { recursive: true, force: true }));
  const ctx: Ctx = {
    runner: await CommandRunner.create(cleanup),
    client,
    tree,
    ep,
    stateRoot,
    out,
    problems: [],
  };
  const fastest = syncTools({ includeSizeOnly: false }).find((t) => t.id === 'rclone-fastest');
  const ours = syncTools({ includeSizeOnly: false }).find((t) => t.id === 'ours');
  if (!fastest || !ours) throw new Error('sync tools missing');
  const header = [
    ...machineLines({ rcloneVersion, s3: s3Description(s3.local, ep.endpoint) }),
    `tree: ${tree.workspacesDir}`,
    `  ${fmtCount(tree.totalFiles)} files; synced: ${fmtCount(tree.syncedFiles)} files in ${SCALE_TREE_SPEC.workspaces} workspaces; ${fmtCount(SCALE_TREE_SPEC.nodeModulesFiles)} under node_modules`,
    `memory: ${ctx.runner.rssMethod} for one-shot runs; /proc/<pid>/status VmRSS (now) and VmHWM (peak) for the watcher`,
    `bucketspace: ${ours.flags}; rclone fastest: ${fastest.flags}; rclone lsf: lsf -R --fast-list --files-only (the listing alone)`,
  ];
  out.write(`${header.join('\n')}\n\n`);
  if (s3.local) await warmUp(client);

  out.write('initial sync (each tool into its own empty bucket):\n');
  const oursTarget = await target(ctx, 'ours');
  const fastestTarget = await target(ctx, 'fastest');
  const initial: Record<'ours' | 'fastest', Sample> = {
    ours: await measure(ctx, 'bucketspace', ours.command(oursTarget), ctx.tree.syncedFiles),
    fastest: await measure(ctx, 'rclone fastest', fastest.command(fastestTarget)),
  };
  out.write(`no-op sync (${options.reps} rounds, tools in turn):\n`);
  const noop: Record<Column, Sample[]> = { ours: [], fastest: [], lsf: [] };
  for (let rep = 0; rep < options.reps; rep++) {
    noop.ours.push(await measure(ctx, 'bucketspace', ours.command(oursTarget), 0));
    noop.fastest.push(await measure(ctx, 'rclone fastest', fastest.command(fastestTarget)));
    noop.lsf.push(await measure(ctx, 'rclone lsf (of the same bucket)', lsf(oursTarget)));
  }
  out.write(`sync watch from an empty bucket, then ${options.edits} saves:\n`);
  const saveTree = await saveTargets(client, oursTarget.bucket, ctx.tree.workspacesDir);
  const watch = await benchWatch(ctx, options.edits, cleanup, saveTree);

  const mib = (kib: number | undefined) => (kib === undefined ? undefined : kib / 1024);
  const table = formatTable([
    ['scenario', 'bucketspace', 'rclone fastest', 'rclone lsf', 'ours/fastest'],
    [
      'initial sync (s)',
      fmtSeconds(initial.ours.seconds),
      fmtSeconds(initial.fastest.seconds),
      '',
      fmtRatio(initial.ours.seconds, initial.fastest.seconds),
    ],
    [
      'initial sync, peak RSS (MiB)',
      fmtMiB(initial.ours.peakKiB),
      fmtMiB(initial.fastest.peakKiB),
      '',
      fmtRatio(initial.ours.peakKiB, initial.fastest.peakKiB),
    ],
    [
      `no-op sync (s, median of ${options.reps})`,
      fmtSeconds(medianSeconds(noop.ours)),
      fmtSeconds(medianSeconds(noop.fastest)),
      fmtSeconds(medianSeconds(noop.lsf)),
      fmtRatio(medianSeconds(noop.ours), medianSeconds(noop.fastest)),
    ],
    [
      'no-op sync, peak RSS (MiB)',
      fmtMiB(peak(noop.ours)),
      fmtMiB(peak(noop.fastest)),
      fmtMiB(peak(noop.lsf)),
      fmtRatio(peak(noop.ours), peak(noop.fastest)),
    ],
    ['sync watch: watching after (s)', fmtSeconds(watch.readySeconds), '', '', ''],
    ['sync watch: RSS once watching (MiB)', fmtMiB(watch.ready?.nowKiB), '', '', ''],
    [
      `sync watch: RSS after ${Math.floor(options.edits / 2)} saves (MiB)`,
      fmtMiB(watch.half?.nowKiB),
      '',
      '',
      '',
    ],
    [`sync watch: RSS after ${options.edits} saves (MiB)`, fmtMiB(watch.end?.nowKiB), '', '', ''],
    ['sync watch: peak RSS (MiB)', fmtMiB(watch.end?.peakKiB), '', '', ''],
    [
      'sync watch: save to visible p50 / p95 (ms)',
      `${fmtMs(watch.p50)} / ${fmtMs(watch.p95)}`,
      '',
      '',
      '',
    ],
  ]);
  const noopPeak = mib(peak(noop.ours));
  const readyNow = mib(watch.ready?.nowKiB);
  const endNow = mib(watch.end?.nowKiB);
  const halfNow = mib(watch.half?.nowKiB);
  const goals = [
    {
      ok: noopPeak !== undefined && noopPeak <= NOOP_GOAL_MIB,
      text: `no-op sync of ${fmtCount(ctx.tree.syncedFiles)} synced files, peak RSS <= ${NOOP_GOAL_MIB} MiB: ${fmtMiB(peak(noop.ours))} MiB`,
    },
    {
      ok: readyNow !== undefined && readyNow <= WATCH_GOAL_MIB,
      text: `sync watch after its initial sync, RSS <= ${WATCH_GOAL_MIB} MiB: ${fmtMiB(watch.ready?.nowKiB)} MiB`,
    },
    {
      ok: endNow !== undefined && endNow <= WATCH_GOAL_MIB,
      text: `sync watch after ${options.edits} saves, RSS <= ${WATCH_GOAL_MIB} MiB: ${fmtMiB(watch.end?.nowKiB)} MiB`,
    },
    {
      ok: endNow !== undefined && halfNow !== undefined && endNow <= halfNow * GROWTH_TOLERANCE,
      text: `no growth: RSS after ${options.edits} saves <= ${GROWTH_TOLERANCE} x after ${Math.floor(options.edits / 2)}: ${fmtMiB(watch.end?.nowKiB)} vs ${fmtMiB(watch.half?.nowKiB)} MiB`,
    },
  ];
  if (watch.timeouts > 0) ctx.problems.push(`${watch.timeouts} saves never became visible`);
  if (watch.exitCode !== 0) ctx.problems.push(`the watcher exited ${watch.exitCode} on SIGTERM`);
  const report = [
    '',
    '== memory benchmark ==',
    ...header,
    '',
    table,
    '',
    'goals:',
    ...goals.map((g) => `  ${passFail(g.ok)}  ${g.text}`),
    ...(ctx.problems.length > 0 ? ['', 'PROBLEMS:', ...ctx.problems.map((p) => `  ${p}`)] : []),
  ];
  out.write(`${report.join('\n')}\n`);
  return goals.every((g) => g.ok) && ctx.problems.length === 0
    ? BENCH_EXIT.ok
    : BENCH_EXIT.goalFailed;
}

export const memoryBenchmark: Benchmark = {
  name: 'memory',
  summary:
    'memory on a 100,000-file tree: initial and no-op sync vs rclone, sync watch and 500 saves',
  usage: USAGE,
  run,
};
