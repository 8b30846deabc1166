// `npm run bench -- serve`: the edit loop on the real Compose stack. For each
// mount variant (rclone, s3fs, direct) and each set of defaults (before the
// loop was reworked, and now): save -> new text served for successive code
// edits of a no-dependency app and of an app with dependencies, requests that
// failed while containers were swapped, and S3 requests per idle minute with
// many workspaces in the bucket.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseBenchArgs, wholeNumber } from './lib/bench-args.ts';
import { BENCH_EXIT, UsageError, type BenchIo, type Benchmark } from './lib/bench-exit.ts';
import { fmtCount, formatTable, passFail } from './lib/format.ts';
import { machineLines } from './lib/machine.ts';
import { REPO } from '../test/support/compose-stack.ts';
import { sleep } from './lib/process-cleanup.ts';
import {
  APP_NAMES,
  appSource,
  appText,
  idleName,
  writeApps,
  writeIdleWorkspaces,
  type AppName,
} from './lib/serve-apps.ts';
import {
  measureEdits,
  measureIdle,
  servedWithin,
  VisitorLoad,
  type IdleResult,
} from './lib/serve-measure.ts';
import {
  SETTINGS,
  startServeStack,
  VARIANTS,
  type ServeStack,
  type Settings,
  type Variant,
} from './lib/serve-stack.ts';
import { maxOf, median, percentile } from './lib/stats.ts';

const USAGE = `usage: npm run bench -- serve [--variants rclone,s3fs,direct] [--settings before,after]
                              [--apps plain,deps] [--edits N] [--idle-minutes M]
                              [--idle-workspaces N] [--idle-files N] [--edit-timeout S]

Runs this repository's Compose stack (Docker, Compose v2 or v1, root for the
shared mount directory, the locally built images) against s3rver on this host
behind a counting proxy, once per variant and set of defaults:
  before  the defaults before the loop was reworked (rclone: --vfs-cache-mode
          full; listings trusted 5 s, attributes 1 s; the monitor polls every
          5 s and waits 1 s of quiet; no hints from the sync:
          bench/serve-before.yml)
  after   today's defaults
and measures, for N successive code edits of each app (plain: no
dependencies; deps: express, installed by the runtime), the time from the
save until the app serves the new text (p50, p95, max), the requests that
failed meanwhile (each app asked every 100 ms), then the S3 requests per
minute while the stack sits idle with the idle workspaces in the bucket.

Goals (after): p50 <= 2 s + the app's own start time, p95 <= 4 s, no failed
request, idle requests <= 10% of before.

  --variants LIST       default rclone,s3fs,direct
  --settings LIST       default before,after
  --apps LIST           default plain,deps
  --edits N             edits per app (default 20)
  --idle-minutes M      idle measurement (default 3)
  --idle-workspaces N   default 20
  --idle-files N        files per idle workspace (default 200)
  --edit-timeout S      an edit not served after S seconds counts as never served (default 120)`;

interface ServeOptions {
  variants: Variant[];
  settings: Settings[];
  apps: AppName[];
  edits: number;
  idleMinutes: number;
  idleWorkspaces: number;
  idleFiles: number;
  editTimeoutMs: number;
}

function listOf<T extends string>(name: string, text: string, allowed: readonly T[]): T[] {
  const items = text.split(',').map((s) => s.trim());
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item))
      throw new UsageError(`--${name}: "${item}" is not one of ${allowed.join(', ')}`);
  }
  return items as T[];
}

function parseOptions(args: string[]): ServeOptions {
  const values = parseBenchArgs(args, {
    variants: { type: 'string', default: VARIANTS.join(',') },
    settings: { type: 'string', default: SETTINGS.join(',') },
    apps: { type: 'string', default: APP_NAMES.join(',') },
    edits: { type: 'string', default: '20' },
    'idle-minutes': { type: 'string', default: '3' },
    'idle-workspaces': { type: 'string', default: '20' },
    'idle-files': { type: 'string', default: '200' },
    'edit-timeout': { type: 'string', default: '120' },
  });
  return {
    variants: listOf('variants', values.variants, VARIANTS),
    settings: listOf('settings', values.settings, SETTINGS),
    apps: listOf('apps', values.apps, APP_NAMES),
    edits: wholeNumber('edits', values.edits, 1, 500),
    idleMinutes: wholeNumber('idle-minutes', values['idle-minutes'], 0, 60),
    idleWorkspaces: wholeNumber('idle-workspaces', values['idle-workspaces'], 0, 200),
    idleFiles: wholeNumber('idle-files', values['idle-files'], 1, 5000),
    editTimeoutMs: wholeNumber('edit-timeout', values['edit-timeout'], 5, 3600) * 1000,
  };
}

/** How long an app takes to answer after `node server.js` starts, here (its own start time). */
async function appStartMs(app: AppName): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-serve-start-'));
  const port = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
  const file = join(dir, 'server.cjs');
  await writeFile(file, appSource(app, 0));
  try {
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      // `require('express')` from this checkout's dependencies.
      const child = spawn(process.execPath, [file], {
        env: { ...process.env, PORT: String(port), NODE_PATH: join(REPO, 'node_modules') },
        stdio: 'ignore',
      });
      const ms = await servedWithin(`http://127.0.0.1:${port}/`, appText(app, 0), 30_000);
      samples.push(ms === Number.POSITIVE_INFINITY ? ms : performance.now() - t0);
      child.kill();
      await new Promise((r) => child.once('exit', r));
    }
    return median(samples);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface RunResult {
  variant: Variant;
  settings: Settings;
  edits: Partial<Record<AppName, number[]>>;
  failed: number;
  requests: number;
  failures: string[];
  idle: IdleResult | undefined;
  /** The sync's warnings about hints it could not deliver (the numbers then show the fallback). */
  hintWarnings: string[];
  error?: string;
}

/** What the sync said since `sinceMs` (epoch) about hints it could not deliver, from its log. */
async function hintWarnings(s: ServeStack, sinceMs: number): Promise<string[]> {
  if (s.variant === 'direct') return [];
  const logs = await s.stack.compose(['logs', '--no-color', '--no-log-prefix', 'sync']);
  const out: string[] = [];
  for (const line of logs.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as {
        level?: number;
        time?: number;
        component?: string;
        reason?: string;
      };
      if (
        entry.level === 40 &&
        (entry.time ?? 0) >= sinceMs &&
        (entry.component === 'mount-hint' || entry.component === 'monitor-hook')
      )
        out.push(`${entry.component}: ${entry.reason ?? 'failed'}`);
    } catch {
      // not a log line of the sync
    }
  }
  return out;
}

async function runOne(
  variant: Variant,
  settings: Settings,
  options: ServeOptions,
  io: BenchIo,
): Promise<RunResult> {
  const say = (line: string) => io.out.write(`  [${variant} ${settings}] ${line}\n`);
  const result: RunResult = {
    variant,
    settings,
    edits: {},
    failed: 0,
    requests: 0,
    failures: [],
    idle: undefined,
    hintWarnings: [],
  };
  say('starting the stack');
  const s = await startServeStack(variant, settings);
  io.cleanup.defer(() => s.close());
  try {
    if (variant !== 'direct') await writeApps(s.editRoot);
    const t0 = performance.now();
    await s.stack.up({ timeoutMs: 600_000 });
    say(`stack up in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    if (variant === 'direct') await writeApps(s.editRoot);
    for (const app of options.apps) {
      const first = await servedWithin(s.stack.url(`/${app}/`), appText(app, 0), 600_000);
      if (first === Number.POSITIVE_INFINITY)
        throw new Error(`${app} never served its first version`);
      say(
        `${app} serving (first start with install: ${(first / 1000).toFixed(1)} s after the stack)`,
      );
    }
    const editsStart = Date.now();
    const load = new VisitorLoad(options.apps.map((a) => s.stack.url(`/${a}/`)));
    for (const app of options.apps) {
      result.edits[app] = await measureEdits({
        s,
        app,
        edits: options.edits,
        timeoutMs: options.editTimeoutMs,
        progress: say,
      });
    }
    await load.stop();
    // (The monitor is not up yet when the sync's first hook goes out: only the edits' count.)
    result.hintWarnings = await hintWarnings(s, editsStart);
    if (result.hintWarnings.length > 0)
      say(`hints not delivered (the times show the fallback): ${result.hintWarnings.join('; ')}`);
    result.failed = load.failures.length;
    result.requests = load.requests;
    result.failures = load.failures.slice(0, 10);
    if (options.idleMinutes > 0) {
      const shape = { workspaces: options.idleWorkspaces, filesPerWorkspace: options.idleFiles };
      say(`writing ${shape.workspaces} idle workspaces of ${shape.filesPerWorkspace} files`);
      await writeIdleWorkspaces(s.editRoot, shape);
      for (let w = 0; w < shape.workspaces; w++) {
        const url = s.stack.url(`/${idleName(w)}/`);
        if (
          (await servedWithin(url, `<!doctype html><p>${idleName(w)}</p>\n`, 900_000)) ===
          Number.POSITIVE_INFINITY
        )
          throw new Error(`${idleName(w)} never served`);
      }
      say('every idle workspace is served; letting the stack settle for 60 s');
      await sleep(60_000);
      say(`counting S3 requests for ${options.idleMinutes} idle minutes`);
      result.idle = await measureIdle(s, options.idleMinutes);
      say(`idle: ${result.idle.perMinute.toFixed(0)} requests/min: ${result.idle.kinds}`);
    }
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
    say(`could not finish: ${result.error}`);
  } finally {
    say('stopping the stack');
    await s.close();
  }
  return result;
}

const s = (ms: number) =>
  ms === Number.POSITIVE_INFINITY || Number.isNaN(ms) ? 'never' : (ms / 1000).toFixed(2);

function editRows(results: RunResult[], apps: AppName[]): string[][] {
  const rows = [
    ['variant', 'app', 'defaults', 'edits', 'p50 s', 'p95 s', 'max s', 'failed requests'],
  ];
  for (const r of results) {
    for (const app of apps) {
      const took = r.edits[app] ?? [];
      rows.push([
        r.variant,
        app,
        r.settings,
        String(took.length),
        s(percentile(took, 50)),
        s(percentile(took, 95)),
        s(maxOf(took)),
        `${r.failed} of ${fmtCount(r.requests)}`,
      ]);
    }
  }
  return rows;
}

function idleRows(results: RunResult[], variants: Variant[]): string[][] {
  const rows = [
    ['variant', 'before req/min', 'after req/min', 'after / before', 'after, by service'],
  ];
  for (const v of variants) {
    const before = results.find((r) => r.variant === v && r.settings === 'before')?.idle;
    const after = results.find((r) => r.variant === v && r.settings === 'after')?.idle;
    const ratio =
      before && after && before.perMinute > 0
        ? `${((after.perMinute / before.perMinute) * 100).toFixed(1)}%`
        : 'n/a';
    const services = after
      ? Object.entries(after.byService)
          .sort((a, b) => b[1] - a[1])
          .map(([k, n]) => `${k} ${n.toFixed(0)}`)
          .join(', ')
      : 'n/a';
    rows.push([
      v,
      before ? before.perMinute.toFixed(0) : 'n/a',
      after ? after.perMinute.toFixed(0) : 'n/a',
      ratio,
      services,
    ]);
  }
  return rows;
}

function goals(
  results: RunResult[],
  options: ServeOptions,
  startMs: Partial<Record<AppName, number>>,
): { lines: string[]; ok: boolean } {
  const lines: string[] = [];
  let ok = true;
  const check = (pass: boolean, text: string) => {
    ok &&= pass;
    lines.push(`  ${passFail(pass)}  ${text}`);
  };
  for (const r of results.filter((x) => x.settings === 'after')) {
    if (r.error) check(false, `${r.variant}: could not finish (${r.error})`);
    if (r.hintWarnings.length > 0)
      check(false, `${r.variant}: hints not delivered (${r.hintWarnings.join('; ')})`);
    for (const app of options.apps) {
      const took = r.edits[app] ?? [];
      const p50 = percentile(took, 50);
      const p95 = percentile(took, 95);
      const allowed = 2000 + (startMs[app] ?? 0);
      check(
        p50 <= allowed,
        `${r.variant} ${app}: p50 ${s(p50)} s <= ${s(allowed)} s (2 s + the app's start)`,
      );
      check(p95 <= 4000, `${r.variant} ${app}: p95 ${s(p95)} s <= 4 s`);
    }
    check(r.failed === 0, `${r.variant}: ${r.failed} failed requests during the edits (goal 0)`);
    const before = results.find((x) => x.variant === r.variant && x.settings === 'before')?.idle;
    if (before && r.idle) {
      const ratio = r.idle.perMinute / Math.max(before.perMinute, 1e-9);
      check(
        ratio <= 0.1,
        `${r.variant}: idle S3 requests ${(ratio * 100).toFixed(1)}% of before (goal <= 10%)`,
      );
    }
  }
  return { lines, ok };
}

async function run(args: string[], io: BenchIo): Promise<number> {
  const options = parseOptions(args);
  for (const line of machineLines({
    rcloneVersion: undefined,
    s3: 's3rver on this host, behind the counting proxy',
  }))
    io.out.write(`${line}\n`);
  const startMs: Partial<Record<AppName, number>> = {};
  for (const app of options.apps) startMs[app] = await appStartMs(app);
  io.out.write(
    `app start times here (node server.js -> first answer, median of 5): ${options.apps
      .map((a) => `${a} ${s(startMs[a] ?? Number.NaN)} s`)
      .join(', ')}\n`,
  );
  const results: RunResult[] = [];
  for (const variant of options.variants) {
    for (const settings of options.settings) {
      results.push(await runOne(variant, settings, options, io));
    }
  }
  io.out.write(`\nsave -> new text served (${options.edits} code edits per app)\n`);
  io.out.write(`${formatTable(editRows(results, options.apps))}\n`);
  for (const r of results.filter((x) => x.failures.length > 0)) {
    io.out.write(
      `  ${r.variant} ${r.settings} failed requests (first ${r.failures.length}): ${r.failures.join('; ')}\n`,
    );
  }
  if (options.idleMinutes > 0) {
    io.out.write(
      `\nS3 requests per idle minute (${options.idleWorkspaces} idle workspaces of ${options.idleFiles} files, plus the two apps; ${options.idleMinutes} min counted)\n`,
    );
    io.out.write(`${formatTable(idleRows(results, options.variants))}\n`);
    for (const r of results)
      if (r.idle) io.out.write(`  ${r.variant} ${r.settings}: ${r.idle.kinds}\n`);
  }
  const verdict = goals(results, options, startMs);
  io.out.write(`\ngoals\n${verdict.lines.join('\n')}\n`);
  if (results.some((r) => r.error)) return BENCH_EXIT.error;
  return verdict.ok ? BENCH_EXIT.ok : BENCH_EXIT.goalFailed;
}

export const serveBenchmark: Benchmark = {
  name: 'serve',
  summary: 'the edit loop on the Compose stack: save -> served, failed requests, idle S3 requests',
  usage: USAGE,
  run,
};
