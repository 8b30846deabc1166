import { fmtCount, fmtMiB, fmtRatio, fmtSeconds, formatTable, passFail } from './format.ts';
import { describeTally } from './request-tally.ts';
import { median } from './stats.ts';
import type { Scenario, ToolResults } from './sync-runs.ts';
import type { SyncTool, ToolId } from './sync-tools.ts';

export interface Goal {
  name: string;
  ok: boolean;
  detail: string;
}

interface Row {
  label: string;
  value: (r: ToolResults) => number | undefined;
  format: (n: number | undefined) => string;
}

const SCENARIO_NAMES: Record<Scenario, string> = {
  initial: 'initial sync',
  noop: 'no-op sync',
  edit: 'one-file edit',
};

function medianSeconds(r: ToolResults, s: Scenario): number | undefined {
  const values = r.samples[s].map((x) => x.seconds);
  return values.length > 0 ? median(values) : undefined;
}

function peakRss(r: ToolResults, s: Scenario): number | undefined {
  const values = r.samples[s].flatMap((x) => (x.peakRssKiB === undefined ? [] : [x.peakRssKiB]));
  return values.length > 0 ? Math.max(...values) : undefined;
}

function rows(reps: number, withRequests: boolean): Row[] {
  const scenarios: Scenario[] = ['initial', 'noop', 'edit'];
  const time = scenarios.map((s): Row => ({
    label: `${SCENARIO_NAMES[s]} (s, median of ${reps})`,
    value: (r) => medianSeconds(r, s),
    format: fmtSeconds,
  }));
  const rss = scenarios.map((s): Row => ({
    label: `peak RSS, ${SCENARIO_NAMES[s]} (MiB)`,
    value: (r) => peakRss(r, s),
    format: fmtMiB,
  }));
  const requests = scenarios.map((s): Row => ({
    label: `S3 requests, ${SCENARIO_NAMES[s]}`,
    value: (r) => r.requests[s]?.total,
    format: fmtCount,
  }));
  return [...time, ...rss, ...(withRequests ? requests : [])];
}

/** The side-by-side table: scenario | ours | rclone default | rclone fastest | ratios | extra columns. */
export function resultsTable(
  tools: readonly SyncTool[],
  results: ReadonlyMap<ToolId, ToolResults>,
  reps: number,
  withRequests: boolean,
): string {
  const get = (id: ToolId) => results.get(id);
  const extras = tools.filter((t) => !['ours', 'rclone-default', 'rclone-fastest'].includes(t.id));
  const header = [
    'scenario',
    'bucketspace',
    'rclone default',
    'rclone fastest',
    'ours/default',
    'ours/fastest',
    ...extras.map((t) => t.label),
  ];
  const body = rows(reps, withRequests).map((row) => {
    const v = (id: ToolId) => {
      const r = get(id);
      return r ? row.value(r) : undefined;
    };
    return [
      row.label,
      row.format(v('ours')),
      row.format(v('rclone-default')),
      row.format(v('rclone-fastest')),
      fmtRatio(v('ours'), v('rclone-default')),
      fmtRatio(v('ours'), v('rclone-fastest')),
      ...extras.map((t) => row.format(v(t.id))),
    ];
  });
  return formatTable([header, ...body]);
}

/** Every timing, so medians can be checked against the spread. */
export function rawSamples(
  tools: readonly SyncTool[],
  results: ReadonlyMap<ToolId, ToolResults>,
): string[] {
  const lines: string[] = [];
  for (const s of ['initial', 'noop', 'edit'] as const) {
    const parts = tools.map(
      (t) =>
        `${t.label} ${(results.get(t.id)?.samples[s] ?? []).map((x) => fmtSeconds(x.seconds)).join('/')}`,
    );
    lines.push(`  ${SCENARIO_NAMES[s]}: ${parts.join('; ')}`);
  }
  return lines;
}

/**
 * ours / rclone fastest per initial round: the tools run one after the other
 * in each round, so these pair up runs made under the same load.
 */
export function initialRatios(results: ReadonlyMap<ToolId, ToolResults>): string | undefined {
  const ours = results.get('ours')?.samples.initial ?? [];
  const fastest = results.get('rclone-fastest')?.samples.initial ?? [];
  const n = Math.min(ours.length, fastest.length);
  if (n === 0) return undefined;
  const ratios = Array.from(
    { length: n },
    (_, i) => (ours[i]?.seconds ?? Number.NaN) / (fastest[i]?.seconds ?? Number.NaN),
  );
  return `  initial sync, ours/rclone fastest per round: ${ratios.map((r) => `${r.toFixed(2)}x`).join('/')} (median ${median(ratios).toFixed(2)}x)`;
}

export function requestBreakdown(
  tools: readonly SyncTool[],
  results: ReadonlyMap<ToolId, ToolResults>,
): string[] {
  const lines: string[] = [];
  for (const s of ['initial', 'noop', 'edit'] as const) {
    for (const t of tools) {
      const tally = results.get(t.id)?.requests[s];
      if (tally) lines.push(`  ${SCENARIO_NAMES[s]}, ${t.label}: ${describeTally(tally)}`);
    }
  }
  return lines;
}

/** The initial sync's peak memory may be at most this many times rclone fastest's (issue 11). */
const INITIAL_RSS_GOAL = 1.2;

/**
 * The goals: initial sync no slower than rclone's best correct configuration
 * and in at most 1.2x its memory, and a no-op sync at most half of rclone's default.
 */
export function evaluateGoals(
  tools: readonly SyncTool[],
  results: ReadonlyMap<ToolId, ToolResults>,
): Goal[] {
  const oursResults = results.get('ours');
  const ours = (s: Scenario) => (oursResults ? medianSeconds(oursResults, s) : undefined);
  const rcloneCorrect = tools.filter((t) => t.id !== 'ours' && t.correct);
  const best = rcloneCorrect
    .map((t) => ({
      t,
      s: results.get(t.id) ? medianSeconds(results.get(t.id) as ToolResults, 'initial') : undefined,
    }))
    .filter((x): x is { t: SyncTool; s: number } => x.s !== undefined)
    .sort((a, b) => a.s - b.s)[0];
  const goals: Goal[] = [];
  const initial = ours('initial');
  if (best && initial !== undefined) {
    goals.push({
      name: "initial sync no slower than rclone's best (ours <= best rclone x 1.0)",
      ok: initial <= best.s,
      detail: `ours ${fmtSeconds(initial)} s vs ${best.t.label} ${fmtSeconds(best.s)} s = ${fmtRatio(initial, best.s)}`,
    });
  }
  const fastestResults = results.get('rclone-fastest');
  const oursPeak = oursResults ? peakRss(oursResults, 'initial') : undefined;
  const fastestPeak = fastestResults ? peakRss(fastestResults, 'initial') : undefined;
  if (oursPeak !== undefined && fastestPeak !== undefined) {
    goals.push({
      name: `initial sync's peak RSS at most ${INITIAL_RSS_GOAL}x rclone fastest's (highest of each tool's rounds)`,
      ok: oursPeak <= fastestPeak * INITIAL_RSS_GOAL,
      detail: `ours ${fmtMiB(oursPeak)} MiB vs rclone fastest ${fmtMiB(fastestPeak)} MiB = ${fmtRatio(oursPeak, fastestPeak)}`,
    });
  }
  const defaultResults = results.get('rclone-default');
  const def = defaultResults ? medianSeconds(defaultResults, 'noop') : undefined;
  const noop = ours('noop');
  if (def !== undefined && noop !== undefined) {
    goals.push({
      name: 'no-op sync at most half of rclone default (ours <= rclone default x 0.5)',
      ok: noop <= def * 0.5,
      detail: `ours ${fmtSeconds(noop)} s vs rclone default ${fmtSeconds(def)} s = ${fmtRatio(noop, def)}`,
    });
  }
  return goals;
}

export function formatGoals(goals: readonly Goal[]): string[] {
  return goals.map((g) => `  ${passFail(g.ok)}  ${g.name}: ${g.detail}`);
}
