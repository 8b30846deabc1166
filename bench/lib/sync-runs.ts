import type { S3Client } from '@aws-sdk/client-s3';
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { benchBucketName, headEtag, type S3Endpoint } from './bench-s3.ts';
import { describeFailure, type CommandRunner } from './command-runner.ts';
import { fmtMiB, fmtSeconds } from './format.ts';
import type { RequestTally } from './request-tally.ts';
import { editSameSize, type SyncTree } from './sync-tree.ts';
import type { SyncTool, SyncTarget, ToolId } from './sync-tools.ts';

export type Scenario = 'initial' | 'noop' | 'edit';
export const SCENARIOS: readonly Scenario[] = ['initial', 'noop', 'edit'];

export interface Sample {
  seconds: number;
  peakRssKiB: number | undefined;
}

/** Everything measured for one tool. */
export interface ToolResults {
  samples: Record<Scenario, Sample[]>;
  requests: Partial<Record<Scenario, RequestTally>>;
  /** Edits this tool did not upload (expected only for incorrect configurations). */
  missedEdits: number;
}

export interface SyncSeries {
  tool: SyncTool;
  /** Replaced by a fresh bucket and state for every initial round after the first. */
  target: SyncTarget;
}

/** A counting proxy in front of the server: resets before and tallies after each run. */
export interface RequestCounter {
  reset(): void;
  tally(): RequestTally;
}

export interface SyncRunContext {
  runner: CommandRunner;
  client: S3Client;
  tree: SyncTree;
  out: NodeJS.WriteStream;
  stateRoot: string;
  /** Problems that make the comparison untrustworthy (printed; exit code 1). */
  problems: string[];
  /** Observations worth reading (printed). */
  notes: string[];
  results: Map<ToolId, ToolResults>;
  editRound: number;
}

const TIMEOUT_MS: Record<Scenario, number> = {
  initial: 30 * 60_000,
  noop: 10 * 60_000,
  edit: 10 * 60_000,
};
const SCENARIO_LABEL: Record<Scenario, string> = {
  initial: 'initial',
  noop: 'no-op',
  edit: 'edit',
};

export function emptyResults(): ToolResults {
  return { samples: { initial: [], noop: [], edit: [] }, requests: {}, missedEdits: 0 };
}

/** A fresh bucket and (for bucketspace) a fresh state directory per tool. */
export async function newSeries(
  ctx: SyncRunContext,
  tools: readonly SyncTool[],
  endpoint: S3Endpoint,
  tag: string,
): Promise<SyncSeries[]> {
  const series: SyncSeries[] = [];
  for (const tool of tools) {
    series.push({ tool, target: await freshTarget(ctx, tool, endpoint, tag) });
  }
  return series;
}

async function freshTarget(
  ctx: SyncRunContext,
  tool: SyncTool,
  endpoint: S3Endpoint,
  tag: string,
): Promise<SyncTarget> {
  const stateDir = await mkdtemp(join(ctx.stateRoot, `${tool.id}-${tag}-`));
  const bucket = benchBucketName(`${tag}-${tool.id}`.slice(0, 40));
  return { workspacesDir: ctx.tree.workspacesDir, bucket, endpoint, stateDir };
}

export interface OurSummary {
  uploaded: number;
  deleted: number;
  unchanged: number;
  skipped: number;
  failed: number;
}

export function parseOurSummary(stdout: string): OurSummary | undefined {
  const line = stdout.trim().split('\n').pop() ?? '';
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value !== 'object' || value === null) return undefined;
    const v = value as Record<string, unknown>;
    const n = (k: string) => (typeof v[k] === 'number' ? v[k] : Number.NaN);
    return {
      uploaded: n('uploaded'),
      deleted: n('deleted'),
      unchanged: n('unchanged'),
      skipped: n('skipped'),
      failed: n('failed'),
    };
  } catch {
    return undefined;
  }
}

/** What bucketspace's own summary should say after each scenario. */
function checkOurSummary(ctx: SyncRunContext, scenario: Scenario, stdout: string): void {
  const s = parseOurSummary(stdout);
  if (!s) {
    ctx.problems.push(`bucketspace ${scenario}: no JSON summary on stdout`);
    return;
  }
  const expected: Record<Scenario, number> = { initial: ctx.tree.syncedFiles, noop: 0, edit: 1 };
  if (s.uploaded !== expected[scenario] || s.deleted !== 0 || s.failed !== 0) {
    ctx.problems.push(
      `bucketspace ${scenario}: uploaded ${s.uploaded}, deleted ${s.deleted}, failed ${s.failed}; expected uploaded ${expected[scenario]}, deleted 0, failed 0`,
    );
  }
}

/**
 * `sync(1)`: write out what earlier runs left in the page cache (an initial
 * sync leaves about 220 MB the S3 server wrote). Otherwise the kernel
 * flushes it 30 s later, in the middle of whichever run comes then. Untimed.
 */
function flushDirtyPages(): Promise<void> {
  return new Promise((resolve) => {
    execFile('sync', [], { timeout: 120_000 }, () => resolve());
  });
}

/** One sync by one tool; a crash or timeout aborts the benchmark. */
async function syncOnce(
  ctx: SyncRunContext,
  series: SyncSeries,
  scenario: Scenario,
): Promise<Sample> {
  const { tool, target } = series;
  await flushDirtyPages();
  const run = await ctx.runner.run(tool.command(target), TIMEOUT_MS[scenario]);
  if (run.timedOut || run.exitCode !== 0)
    throw new Error(describeFailure(`${tool.label} (${scenario})`, run));
  if (tool.id === 'ours') checkOurSummary(ctx, scenario, run.stdout);
  const retry = /^.*Attempt \d+\/\d+ failed.*$/m.exec(run.stderrTail);
  if (retry) {
    const firstError = /^.*ERROR : .*$/m.exec(run.stderrTail)?.[0] ?? retry[0];
    ctx.notes.push(
      `${tool.label} (${scenario}) retried the whole sync after: ${firstError.replace(/^\S+ \S+ /, '')}`,
    );
  }
  return { seconds: run.seconds, peakRssKiB: run.peakRssKiB };
}

function resultsOf(ctx: SyncRunContext, id: ToolId): ToolResults {
  let r = ctx.results.get(id);
  if (!r) ctx.results.set(id, (r = emptyResults()));
  return r;
}

function printRun(
  ctx: SyncRunContext,
  series: SyncSeries,
  scenario: Scenario,
  sample: Sample,
  extra: string,
): void {
  ctx.out.write(
    `  ${SCENARIO_LABEL[scenario].padEnd(8)} ${series.tool.label.padEnd(32)} ${fmtSeconds(sample.seconds).padStart(7)} s ${fmtMiB(sample.peakRssKiB).padStart(6)} MiB${extra}\n`,
  );
}

/** Did the tool put the edited content in the bucket? */
async function checkEdit(ctx: SyncRunContext, series: SyncSeries, md5: string): Promise<string> {
  const etag = await headEtag(ctx.client, series.target.bucket, ctx.tree.editTarget);
  if (etag === md5) return '  edit uploaded';
  resultsOf(ctx, series.tool.id).missedEdits += 1;
  if (series.tool.correct) {
    ctx.problems.push(
      `${series.tool.label}: the same-size edit of ${ctx.tree.editTarget} is not in the bucket (ETag ${etag ?? 'missing'}, local MD5 ${md5})`,
    );
  }
  return '  EDIT MISSED';
}

const WRITE_KINDS = ['PUT', 'PUT part', 'MPU start', 'MPU complete'];

/** A correct tool uploads nothing in a no-op sync and one object for one edit (server-side COPYs are not uploads). */
function checkWrites(
  ctx: SyncRunContext,
  tool: SyncTool,
  scenario: Scenario,
  t: RequestTally,
): void {
  const writes = WRITE_KINDS.reduce((n, k) => n + (t.byKind.get(k) ?? 0), 0);
  const limit = scenario === 'noop' ? 0 : scenario === 'edit' ? 1 : Number.POSITIVE_INFINITY;
  if (writes > limit && tool.correct) {
    ctx.problems.push(
      `${tool.label} made ${writes} write requests in the ${scenario} counting run (expected at most ${limit}): it re-uploaded unchanged files`,
    );
  }
}

interface PhaseOptions {
  reps: number;
  /** Count requests instead of keeping timings (runs through the counting proxy). */
  counter?: RequestCounter;
}

async function runScenario(
  ctx: SyncRunContext,
  series: SyncSeries,
  scenario: Scenario,
  options: PhaseOptions,
  md5?: string,
): Promise<void> {
  options.counter?.reset();
  const sample = await syncOnce(ctx, series, scenario);
  const results = resultsOf(ctx, series.tool.id);
  let extra = '';
  if (options.counter) {
    const t = options.counter.tally();
    results.requests[scenario] = t;
    extra = `  ${t.total.toLocaleString('en-US')} requests (counting run)`;
    checkWrites(ctx, series.tool, scenario, t);
  } else {
    results.samples[scenario].push(sample);
  }
  if (md5 !== undefined) extra += await checkEdit(ctx, series, md5);
  printRun(ctx, series, scenario, sample, extra);
}

/**
 * The three scenarios, tools interleaved so that slow drift (cache, server
 * state) affects them alike: each initial round (every tool into a fresh
 * bucket, with fresh state; the last round's buckets are kept for the rest),
 * then each no-op round for every tool, then each edit round (one edit, then
 * every tool syncs it).
 */
export async function runPhases(
  ctx: SyncRunContext,
  series: SyncSeries[],
  options: PhaseOptions,
): Promise<void> {
  for (let rep = 0; rep < options.reps; rep++) {
    for (const s of series) {
      if (rep > 0) s.target = await freshTarget(ctx, s.tool, s.target.endpoint, `i${rep}`);
      await runScenario(ctx, s, 'initial', options);
    }
  }
  for (let rep = 0; rep < options.reps; rep++) {
    for (const s of series) await runScenario(ctx, s, 'noop', options);
  }
  for (let rep = 0; rep < options.reps; rep++) {
    ctx.editRound += 1;
    const md5 = await editSameSize(
      join(ctx.tree.workspacesDir, ctx.tree.editTarget),
      ctx.editRound,
    );
    for (const s of series) await runScenario(ctx, s, 'edit', options, md5);
  }
}
