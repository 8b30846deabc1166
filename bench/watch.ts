// `npm run bench -- watch`: save-to-visible latency of `bucketspace sync watch`.
import type { S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBenchArgs, wholeNumber } from './lib/bench-args.ts';
import { BENCH_EXIT, UsageError, type BenchIo, type Benchmark } from './lib/bench-exit.ts';
import {
  benchBucketName,
  createBucket,
  createS3Client,
  endpointOf,
  listObjects,
  startBenchS3,
  type S3Endpoint,
} from './lib/bench-s3.ts';
import { CommandRunner, describeFailure } from './lib/command-runner.ts';
import {
  kindTable,
  latencyRow,
  latencyStats,
  measureSaves,
  POLL_MS,
  type SaveResult,
} from './lib/save-latency.ts';
import { fmtMiB, fmtMs, formatTable, passFail } from './lib/format.ts';
import { machineLines, s3Description } from './lib/machine.ts';
import { sleep, type ProcessCleanup } from './lib/process-cleanup.ts';
import { Random } from './lib/random.ts';
import { findRclone, RCLONE_INSTALL_HINT, RCLONE_REMOTE, rcloneEnv } from './lib/rclone.ts';
import { isTempKey, planSaves, SAVE_KINDS, type Save } from './lib/saves.ts';
import { bucketspaceEnv, CLI } from './lib/sync-tools.ts';
import { buildWatchTree, expectedObjects, type WatchTree } from './lib/watch-tree.ts';
import { WatcherProcess } from './lib/watcher-process.ts';

const USAGE = `usage: npm run bench -- watch [--saves N] [--interval MS]

Starts \`bucketspace sync watch\` on a small tree (3 workspaces) against s3rver,
waits for its initial sync ("started watch"), then saves small files one after
another (new files, edits in place, editor-style write-to-temp-then-rename) and
measures, for each save, the time from the write until HeadObject returns the
new content's ETag (polled every ${20} ms). Compared with a naive
"rclone copyto on every save". Goal: p95 < 1 s.

  --saves N       number of saves (default 60)
  --interval MS   a save starts at least this long after the previous one
                  started, and only once that one is visible (default 250)

S3: as for \`bench sync\` (s3rver on 127.0.0.1, or S3_BENCH_ENDPOINT ...).
rclone is optional here: without it the comparison row is skipped.`;

const READY_TIMEOUT_MS = 120_000;
const STOP_GOAL_S = 5;
const STOP_TIMEOUT_MS = 20_000;
const P95_GOAL_MS = 1_000;

interface WatchBenchOptions {
  saves: number;
  intervalMs: number;
}

function parseOptions(args: string[]): WatchBenchOptions {
  const values = parseBenchArgs(args, {
    saves: { type: 'string', default: '60' },
    interval: { type: 'string', default: '250' },
  });
  const saves = wholeNumber('saves', values.saves, 3, 1000);
  const intervalMs = Number(values.interval);
  if (!Number.isInteger(intervalMs) || intervalMs < 0 || intervalMs > 60_000)
    throw new UsageError(`--interval must be 0 to 60000 ms, not "${values.interval}"`);
  return { saves, intervalMs };
}

/** After the saves: the bucket must hold exactly the synced local files, with their content. */
async function checkBucket(
  client: S3Client,
  bucket: string,
  tree: WatchTree,
): Promise<{ ok: boolean; lines: string[] }> {
  const expected = await expectedObjects(tree.workspacesDir);
  const actual = await listObjects(client, bucket);
  const missing = [...expected.keys()].filter((k) => !actual.has(k));
  const extra = [...actual.keys()].filter((k) => !expected.has(k));
  const stale = [...expected.entries()]
    .filter(([k, md5]) => actual.has(k) && actual.get(k)?.etag !== md5)
    .map(([k]) => k);
  const temps = extra.filter(isTempKey);
  const ok = missing.length === 0 && extra.length === 0 && stale.length === 0;
  const lines = [
    ok
      ? `  PASS  bucket matches the local tree after the saves (${expected.size} objects, every ETag = local MD5)`
      : `  FAIL  bucket differs from the local tree: ${missing.length} missing, ${extra.length} extra, ${stale.length} stale (${[...missing, ...extra, ...stale].slice(0, 5).join(', ')})`,
    `  ${passFail(temps.length === 0)}  editor temporary files left in the bucket: ${temps.length}`,
  ];
  return { ok: ok && temps.length === 0, lines };
}

async function benchOurs(ctx: {
  tree: WatchTree;
  client: S3Client;
  ep: S3Endpoint;
  dir: string;
  options: WatchBenchOptions;
  out: NodeJS.WriteStream;
  cleanup: ProcessCleanup;
  rng: Random;
}) {
  const bucket = benchBucketName('watch-ours');
  const env = {
    ...bucketspaceEnv({
      workspacesDir: ctx.tree.workspacesDir,
      bucket,
      endpoint: ctx.ep,
      stateDir: join(ctx.dir, 'state'),
    }),
    LOG_LEVEL: 'info',
  };
  const watcher = new WatcherProcess({
    command: process.execPath,
    args: [CLI, 'sync', 'watch'],
    env,
    cleanup: ctx.cleanup,
  });
  const readySeconds = await watcher.ready(READY_TIMEOUT_MS);
  ctx.out.write(
    `bucketspace sync watch: initial sync done and watching after ${readySeconds.toFixed(1)} s\n`,
  );
  const saves = planSaves(ctx.tree, ctx.options.saves, 'bs', ctx.rng);
  const results = await measureSaves({
    label: 'bucketspace',
    saves,
    tree: ctx.tree,
    client: ctx.client,
    bucket,
    intervalMs: ctx.options.intervalMs,
    out: ctx.out,
  });
  await sleep(1_000);
  const bucketCheck = await checkBucket(ctx.client, bucket, ctx.tree);
  const stop = await watcher.stop(STOP_TIMEOUT_MS);
  return {
    results,
    readySeconds,
    bucketCheck,
    stop,
    batches: watcher.count('batch synced'),
    warnings: watcher.warnings,
  };
}

async function benchRclone(ctx: {
  tree: WatchTree;
  client: S3Client;
  ep: S3Endpoint;
  options: WatchBenchOptions;
  out: NodeJS.WriteStream;
  runner: CommandRunner;
  rng: Random;
}): Promise<{ results: SaveResult[]; failures: string[] }> {
  const bucket = benchBucketName('watch-rclone');
  await createBucket(ctx.client, bucket);
  const failures: string[] = [];
  const env = rcloneEnv(ctx.ep);
  const saves = planSaves(ctx.tree, ctx.options.saves, 'rc', ctx.rng);
  const afterWrite = async (save: Save) => {
    const spec = {
      command: 'rclone',
      args: [
        'copyto',
        join(ctx.tree.workspacesDir, save.key),
        `${RCLONE_REMOTE}:${bucket}/${save.key}`,
      ],
      env,
    };
    const run = await ctx.runner.run(spec, 60_000);
    if (run.exitCode !== 0) failures.push(describeFailure(`rclone copyto ${save.key}`, run));
  };
  const results = await measureSaves({
    label: 'rclone copyto',
    saves,
    tree: ctx.tree,
    client: ctx.client,
    bucket,
    intervalMs: ctx.options.intervalMs,
    out: ctx.out,
    afterWrite,
  });
  return { results, failures };
}

async function run(args: string[], { out, cleanup }: BenchIo): Promise<number> {
  const options = parseOptions(args);
  const rcloneVersion = await findRclone();
  if (!rcloneVersion) out.write(`${RCLONE_INSTALL_HINT}\n(the rclone comparison row is skipped)\n`);
  const dir = await mkdtemp(join(tmpdir(), 'bucketspace-bench-watch-'));
  cleanup.defer(() => rm(dir, { recursive: true, force: true }));
  const rng = new Random(20261122);
  const tree = await buildWatchTree(join(dir, 'workspaces'), rng);
  const s3 = await startBenchS3();
  cleanup.defer(() => s3.close());
  const ep = endpointOf(s3);
  const client = createS3Client(ep);
  cleanup.defer(() => client.destroy());
  const runner = await CommandRunner.create(cleanup);

  const header = [
    ...machineLines({ rcloneVersion, s3: s3Description(s3.local, ep.endpoint) }),
    `tree: ${tree.workspaces.length} workspaces x ${tree.sources.length / tree.workspaces.length} source files (+ node_modules, .env, *.log, .gitignore each)`,
    `${options.saves} saves of 200 B-4 kB, kinds in turn: ${SAVE_KINDS.join(', ')} (rename = write .goutputstream-XXXXXX, then rename over the file);`,
    `  a save starts >= ${options.intervalMs} ms after the previous one and once it is visible; HeadObject polled every ${POLL_MS} ms (latency resolution ~${POLL_MS} ms)`,
  ];
  out.write(`${header.join('\n')}\n\n`);
  const ours = await benchOurs({ tree, client, ep, dir, options, out, cleanup, rng });
  const rclone = rcloneVersion
    ? await benchRclone({ tree, client, ep, options, out, runner, rng })
    : undefined;

  const oursStats = latencyStats(ours.results);
  const rcloneStats = rclone ? latencyStats(rclone.results) : undefined;
  const table = formatTable([
    ['save-to-visible latency (ms)', 'saves', 'p50', 'p95', 'max', 'not visible in 20 s'],
    latencyRow('bucketspace sync watch (defaults)', oursStats),
    ...(rcloneStats
      ? [latencyRow('naive: rclone copyto per save (not a watcher)', rcloneStats)]
      : []),
  ]);
  const stopOk = ours.stop.exitCode === 0 && !ours.stop.killed && ours.stop.seconds <= STOP_GOAL_S;
  const goals = [
    {
      ok: oursStats.p95 < P95_GOAL_MS,
      text: `bucketspace p95 < ${P95_GOAL_MS} ms: p95 ${fmtMs(oursStats.p95)} ms`,
    },
    {
      ok: stopOk,
      text: `watcher exits 0 within ${STOP_GOAL_S} s of SIGTERM: exit ${ours.stop.exitCode ?? ours.stop.signal} after ${ours.stop.seconds.toFixed(2)} s${ours.stop.killed ? ' (had to be killed)' : ''}`,
    },
  ];
  const report = [
    '',
    '== watch benchmark ==',
    ...header,
    `bucketspace: ready (initial sync + watchers) in ${ours.readySeconds.toFixed(1)} s; peak RSS ${fmtMiB(ours.stop.peakRssKiB)} MiB; ${ours.batches} "batch synced" log lines; ${ours.warnings.length} warnings`,
    ...ours.warnings.slice(0, 5).map((w) => `  warning: ${w.msg}`),
    '',
    table,
    '',
    kindTable(ours.results, rclone?.results),
    '',
    'checks:',
    ...ours.bucketCheck.lines,
    ...(rclone && rclone.failures.length > 0
      ? [`  FAIL  ${rclone.failures.length} rclone copyto runs failed: ${rclone.failures[0]}`]
      : []),
    '',
    'goals:',
    ...goals.map((g) => `  ${passFail(g.ok)}  ${g.text}`),
  ];
  out.write(`${report.join('\n')}\n`);
  const ok = goals.every((g) => g.ok) && ours.bucketCheck.ok;
  return ok ? BENCH_EXIT.ok : BENCH_EXIT.goalFailed;
}

export const watchBenchmark: Benchmark = {
  name: 'watch',
  summary: 'save-to-visible latency of `sync watch` (p50/p95/max) vs rclone copyto per save',
  usage: USAGE,
  run,
};
