// `npm run bench -- sync`: bucketspace's one-shot sync against rclone sync on the same S3 server.
import type { S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { BENCH_EXIT, PrerequisiteError, type Benchmark, type BenchIo } from './lib/bench-exit.ts';
import { listObjects, type S3Endpoint, warmUp } from './lib/bench-s3.ts';
import { parseBenchArgs, wholeNumber } from './lib/bench-args.ts';
import { openTreeAndS3 } from './lib/bench-setup.ts';
import { compareBuckets, sameKeys, sampleKeys } from './lib/bucket-compare.ts';
import { CommandRunner } from './lib/command-runner.ts';
import { startCountingProxy } from '../test/support/counting-proxy.ts';
import { fmtBytes, fmtCount } from './lib/format.ts';
import { machineLines, s3Description } from './lib/machine.ts';
import { ProcessCleanup } from './lib/process-cleanup.ts';
import { findRclone, RCLONE_EXCLUDES, RCLONE_INSTALL_HINT } from './lib/rclone.ts';
import { tally } from './lib/request-tally.ts';
import {
  evaluateGoals,
  formatGoals,
  initialRatios,
  rawSamples,
  requestBreakdown,
  resultsTable,
} from './lib/sync-report.ts';
import { newSeries, runPhases, type SyncRunContext, type SyncSeries } from './lib/sync-runs.ts';
import { syncTools, type SyncTool } from './lib/sync-tools.ts';
import { SYNC_TREE_SPEC, type SyncTree } from './lib/sync-tree.ts';

const TREE_DIR = fileURLToPath(new URL('../.bench/sync-tree', import.meta.url));

const USAGE = `usage: npm run bench -- sync [--rebuild] [--reps N] [--size-only] [--no-requests]

Times bucketspace's one-shot sync against \`rclone sync\` (default flags, and its
fastest correct flags) on one S3 server, each tool on its own fresh bucket:
  (a) initial sync, (b) no-op sync, (c) one same-size file edit, then sync.
The tree (${SYNC_TREE_SPEC.workspaces} workspaces, ${fmtCount(SYNC_TREE_SPEC.sourceFiles)} source files,
${fmtCount(SYNC_TREE_SPEC.nodeModulesFiles)} files under node_modules, .env and *.log files, one
${fmtBytes(SYNC_TREE_SPEC.bigFileBytes)} file) is built once under .bench/sync-tree and reused.

  --rebuild       build the tree again
  --reps N        runs of each scenario, median reported (default 3); every
                  initial sync goes to a fresh bucket with fresh state
  --size-only     add \`rclone sync --size-only\` as an extra column, labelled
                  INCORRECT (it misses same-size edits)
  --no-requests   skip the extra untimed runs through a counting proxy that
                  count each tool's S3 requests

S3: s3rver on 127.0.0.1 by default; S3_BENCH_ENDPOINT, S3_BENCH_ACCESS_KEY_ID,
S3_BENCH_SECRET_ACCESS_KEY (or the tests' S3_TEST_*) select a real S3/MinIO.
Needs rclone on PATH.`;

interface SyncBenchOptions {
  rebuild: boolean;
  reps: number;
  sizeOnly: boolean;
  countRequests: boolean;
}

function parseOptions(args: string[]): SyncBenchOptions {
  const values = parseBenchArgs(args, {
    rebuild: { type: 'boolean', default: false },
    reps: { type: 'string', default: '3' },
    'size-only': { type: 'boolean', default: false },
    'no-requests': { type: 'boolean', default: false },
  });
  return {
    rebuild: values.rebuild,
    reps: wholeNumber('reps', values.reps, 1, 20),
    sizeOnly: values['size-only'],
    countRequests: !values['no-requests'],
  };
}

function describeTree(tree: SyncTree): string[] {
  return [
    `tree: ${tree.workspacesDir}`,
    `  ${fmtCount(tree.totalFiles)} files, ${fmtBytes(tree.totalBytes)}; synced: ${fmtCount(tree.syncedFiles)} files, ${fmtBytes(tree.syncedBytes)}`,
    `  (${SYNC_TREE_SPEC.workspaces} workspaces; ${fmtCount(SYNC_TREE_SPEC.sourceFiles)} source files of ${SYNC_TREE_SPEC.sourceMinBytes} B-${fmtBytes(SYNC_TREE_SPEC.sourceMaxBytes)};`,
    `   ${fmtCount(SYNC_TREE_SPEC.nodeModulesFiles)} node_modules files; .env, .env.local and 3 *.log per workspace; ${tree.bigFile ?? 'no large file'} of ${fmtBytes(SYNC_TREE_SPEC.bigFileBytes)})`,
    `  edit scenario rewrites ${tree.editTarget} (same size, new content)`,
  ];
}

/** After the timed runs: every tool's bucket must hold the same keys as ours. */
async function verifyBuckets(
  ctx: SyncRunContext,
  client: S3Client,
  series: readonly SyncSeries[],
): Promise<string[]> {
  const lines: string[] = [];
  const oursSeries = series.find((s) => s.tool.id === 'ours');
  if (!oursSeries) return lines;
  const ours = await listObjects(client, oursSeries.target.bucket);
  if (ours.size !== ctx.tree.syncedFiles) {
    ctx.problems.push(
      `bucketspace's bucket has ${ours.size} objects; the tree has ${ctx.tree.syncedFiles} files to sync`,
    );
  }
  for (const s of series.filter((x) => x.tool.id !== 'ours')) {
    const theirs = await listObjects(client, s.target.bucket);
    const diff = compareBuckets(ours, theirs);
    if (!sameKeys(diff)) {
      const line = `WARNING: key sets differ, bucketspace vs ${s.tool.label}: ${diff.onlyFirst.length} only in ours (${sampleKeys(diff.onlyFirst)}), ${diff.onlySecond.length} only in rclone's (${sampleKeys(diff.onlySecond)})`;
      lines.push(line);
      ctx.problems.push(line);
    } else {
      const etags =
        diff.etagMismatch.length === 0
          ? 'every comparable ETag equal'
          : `${diff.etagMismatch.length} ETags differ (${sampleKeys(diff.etagMismatch)})`;
      const multipart =
        diff.multipartSkipped > 0
          ? ` (${diff.multipartSkipped} multipart ETags not comparable)`
          : '';
      lines.push(
        `  ${s.tool.label}: same ${fmtCount(diff.common)} keys as bucketspace; ${etags}${multipart}`,
      );
      if (diff.etagMismatch.length > 0 && s.tool.correct)
        ctx.problems.push(
          `${s.tool.label}: ${diff.etagMismatch.length} objects differ from bucketspace's`,
        );
    }
  }
  return lines;
}

async function countRequests(
  ctx: SyncRunContext,
  tools: readonly SyncTool[],
  serverEndpoint: () => string,
  ep: S3Endpoint,
  cleanup: ProcessCleanup,
): Promise<void> {
  const proxy = await startCountingProxy(serverEndpoint);
  cleanup.defer(() => proxy.close());
  ctx.out.write(
    `\ncounting S3 requests (one more untimed series per tool through a counting proxy, ${proxy.url}):\n`,
  );
  const series = await newSeries(ctx, tools, { ...ep, endpoint: proxy.url }, 'count');
  await runPhases(ctx, series, {
    reps: 1,
    counter: { reset: () => proxy.reset(), tally: () => tally(proxy.requests) },
  });
}

async function run(args: string[], { out, cleanup }: BenchIo): Promise<number> {
  const options = parseOptions(args);
  const rcloneVersion = await findRclone();
  if (!rcloneVersion) throw new PrerequisiteError(RCLONE_INSTALL_HINT);
  {
    const { tree, s3, ep, client } = await openTreeAndS3({
      spec: SYNC_TREE_SPEC,
      dir: TREE_DIR,
      rebuild: options.rebuild,
      out,
      cleanup,
    });
    const runner = await CommandRunner.create(cleanup);
    const stateRoot = await mkdtemp(join(tmpdir(), 'bucketspace-bench-state-'));
    cleanup.defer(() => rm(stateRoot, { recursive: true, force: true }));
    const tools = syncTools({ includeSizeOnly: options.sizeOnly });
    const ctx: SyncRunContext = {
      runner,
      client,
      tree: tree,
      out,
      stateRoot,
      problems: [],
      notes: [],
      results: new Map(),
      editRound: 0,
    };

    const header = [
      ...machineLines({ rcloneVersion, s3: s3Description(s3.local, ep.endpoint) }),
      ...describeTree(tree),
      `peak RSS: ${runner.rssMethod}, of the tool's own process (node or rclone, not a wrapper)`,
      ...tools.flatMap((t) => [`${t.label}: ${t.flags}`, ...(t.note ? [`  (${t.note})`] : [])]),
      `rclone excludes (= bucketspace's default excludes): ${RCLONE_EXCLUDES.join(' ')}`,
    ];
    out.write(`${header.join('\n')}\n\n`);
    if (s3.local) await warmUp(client);
    out.write('timed runs:\n');
    const timed = await newSeries(ctx, tools, ep, 'time');
    await runPhases(ctx, timed, { reps: options.reps });
    out.write('\nbucket contents after the timed runs:\n');
    const verification = await verifyBuckets(ctx, client, timed);
    out.write(`${verification.join('\n')}\n`);
    if (options.countRequests) await countRequests(ctx, tools, () => s3.endpoint, ep, cleanup);

    const goals = evaluateGoals(tools, ctx.results);
    const report = [
      '',
      '== sync benchmark ==',
      ...header,
      '',
      resultsTable(tools, ctx.results, options.reps, options.countRequests),
      '',
      'every timing (s):',
      ...rawSamples(tools, ctx.results),
      ...(initialRatios(ctx.results) !== undefined ? [initialRatios(ctx.results) ?? ''] : []),
      ...(options.countRequests
        ? ['', 'S3 requests by kind (counting runs):', ...requestBreakdown(tools, ctx.results)]
        : []),
      '',
      'bucket contents:',
      ...verification,
      '',
      ...(s3.local
        ? [
            `s3rver (one Node process, about 500 small PUTs/s) is the bottleneck and shares this machine's ${cpus().length} cores`,
            "with the tool being timed (a tool's own CPU use slows the server): compare the ratios, not the absolute times.",
          ]
        : []),
      '',
      'goals:',
      ...formatGoals(goals),
      ...(ctx.notes.length > 0 ? ['', 'notes:', ...ctx.notes.map((n) => `  ${n}`)] : []),
      ...(ctx.problems.length > 0
        ? [
            '',
            'PROBLEMS (the comparison is not trustworthy until these are fixed):',
            ...ctx.problems.map((p) => `  ${p}`),
          ]
        : []),
    ];
    out.write(`${report.join('\n')}\n`);
    const ok = goals.every((g) => g.ok) && ctx.problems.length === 0;
    return ok ? BENCH_EXIT.ok : BENCH_EXIT.goalFailed;
  }
}

export const syncBenchmark: Benchmark = {
  name: 'sync',
  summary:
    'one-shot sync vs rclone sync: initial, no-op, one-file edit; time, peak RSS, S3 requests',
  usage: USAGE,
  run,
};
