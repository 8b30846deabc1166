// `npm run bench -- mirror`: the mirror's download against `rclone copy` from the same S3 server.
import { mkdtemp, readdir, stat, statfs } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs, wholeNumber } from './lib/bench-args.ts';
import { BENCH_EXIT, PrerequisiteError, type Benchmark, type BenchIo } from './lib/bench-exit.ts';
import {
  benchBucketName,
  createBucket,
  listObjects,
  warmUp,
  type ObjectSummary,
  type S3Endpoint,
} from './lib/bench-s3.ts';
import { describeFailure, type CommandSpec } from './lib/command-runner.ts';
import { startTreeBench } from './lib/tree-bench.ts';
import {
  fmtBytes,
  fmtCount,
  fmtMiB,
  fmtRatio,
  fmtSeconds,
  formatTable,
  passFail,
} from './lib/format.ts';
import { machineLines, s3Description } from './lib/machine.ts';
import { RCLONE_REMOTE, rcloneEnv } from './lib/rclone.ts';
import { median } from './lib/stats.ts';
import { bucketspaceEnv, CLI } from './lib/sync-tools.ts';
import { SYNC_TREE_SPEC } from './lib/sync-tree.ts';
import { bundleBins } from '../scripts/bundle-bins.ts';

const TREE_DIR = fileURLToPath(new URL('../.bench/sync-tree', import.meta.url));

const USAGE = `usage: npm run bench -- mirror [--rebuild] [--reps N] [--all-rclone]

Times \`bucketspace mirror download\` (the bundled bin an installed package runs,
built from this checkout into .bench/bin) against \`rclone copy\` (its fastest
correct flags) from one S3 server into a local directory, runs interleaved:
  (a) download into an empty cache, (b) the same download again (nothing to do).
The bucket holds what the sync benchmark uploads of its tree (${fmtCount(SYNC_TREE_SPEC.sourceFiles)} source
files in ${SYNC_TREE_SPEC.workspaces} prefixes and one ${fmtBytes(SYNC_TREE_SPEC.bigFileBytes)} file); the tree is built once
under .bench/sync-tree and reused. Every run's download is kept until the
benchmark ends (about 221 MB per tool and round): deleting files between runs
slows the file creations of the next minutes on some file systems.

  --rebuild      build the tree again
  --reps N       rounds (default 3); the table shows medians and the median of
                 the per-round ratios
  --all-rclone   also time rclone's default flags and --checksum (slower; shown
                 for scale)

S3: s3rver on 127.0.0.1 by default; S3_BENCH_ENDPOINT, S3_BENCH_ACCESS_KEY_ID,
S3_BENCH_SECRET_ACCESS_KEY (or the tests' S3_TEST_*) select a real S3/MinIO.
Needs rclone on PATH.`;

type Phase = 'initial' | 'noop';
const PHASES: readonly Phase[] = ['initial', 'noop'];
const PHASE_LABEL: Record<Phase, string> = {
  initial: 'download into an empty cache',
  noop: 'download again (nothing to do)',
};
const TIMEOUT_MS: Record<Phase, number> = { initial: 30 * 60_000, noop: 10 * 60_000 };

interface Tool {
  id: string;
  label: string;
  flags: string;
  note?: string;
  /** The goal's baseline. */
  baseline?: boolean;
  command(bucket: string, ep: S3Endpoint, dir: string): CommandSpec;
  /** Files the run transferred, read from its output; undefined when it does not say. */
  transferred(stdout: string, stderr: string): number | undefined;
}

/**
 * The bins as an installed package runs them (bundled: scripts/bundle-bins.ts), built at the
 * start of each run from this checkout, under .bench/ so that the libraries left out of the
 * bundle are found in node_modules.
 */
const BUNDLED_BINS = fileURLToPath(new URL('../.bench/bin', import.meta.url));

const ours: Tool = {
  id: 'ours',
  label: 'bucketspace',
  flags:
    'mirror download s3://<bucket> --cache-root <dir> --json (defaults: 16 transfers), the installed (bundled) bin',
  command: (bucket, ep, dir) => {
    const env = bucketspaceEnv({ workspacesDir: dir, bucket, endpoint: ep, stateDir: dir });
    delete env.S3_BUCKET;
    return {
      command: process.execPath,
      args: [
        join(BUNDLED_BINS, 'cli.js'),
        'mirror',
        'download',
        `s3://${bucket}`,
        '--cache-root',
        dir,
        '--json',
      ],
      env,
    };
  },
  transferred: (stdout) => {
    const outcome = JSON.parse(stdout) as { reports: { transferred: number }[] };
    return outcome.reports.reduce((n, r) => n + r.transferred, 0);
  },
};

/**
 * rclone's fastest flags for S3 -> local that still catch every change: one
 * recursive listing (--fast-list), the server's Last-Modified as the
 * modification time (--use-server-modtime: no HEAD per object for the mtime
 * metadata; the copy's local mtime is set to it, so size + mtime compare from
 * the listing alone), 16 transfers and checkers.
 */
const RCLONE_FASTEST = [
  '--fast-list',
  '--use-server-modtime',
  '--transfers',
  '16',
  '--checkers',
  '16',
] as const;

function rcloneTool(
  id: string,
  label: string,
  extra: readonly string[],
  note?: string,
  baseline = false,
): Tool {
  return {
    id,
    label,
    flags:
      extra.length > 0 ? `copy ${extra.join(' ')}` : 'copy (defaults: --transfers 4 --checkers 8)',
    ...(note ? { note } : {}),
    baseline,
    command: (bucket, ep, dir) => ({
      command: 'rclone',
      args: [
        'copy',
        `${RCLONE_REMOTE}:${bucket}`,
        join(dir, bucket),
        // One stats block at the end (with the file count), nothing else.
        '--stats',
        '1h',
        '--stats-log-level',
        'NOTICE',
        ...extra,
      ],
      env: rcloneEnv(ep),
    }),
    transferred: (_stdout, stderr) => {
      // The final stats: "Transferred:   12 / 12, 100%" (the count line, not the bytes line);
      // with nothing transferred there is no count line, only "Checks:".
      const m = /Transferred:\s+(\d+) \/ \d+, /.exec(stderr);
      return m ? Number(m[1]) : /Checks:\s+\d+ \/ \d+/.test(stderr) ? 0 : undefined;
    },
  };
}

function tools(all: boolean): Tool[] {
  const list = [
    ours,
    rcloneTool(
      'rclone-fastest',
      'rclone fastest',
      RCLONE_FASTEST,
      '--fast-list: one listing; --use-server-modtime: size + Last-Modified from that listing, no HEAD per object; 16 transfers',
      true,
    ),
  ];
  if (all) {
    list.push(
      rcloneTool('rclone-default', 'rclone default', []),
      rcloneTool(
        'rclone-checksum',
        'rclone --checksum',
        ['--fast-list', '--checksum', '--transfers', '16', '--checkers', '16'],
        'MD5 of every local file against the listed ETag on every run',
      ),
    );
  }
  return list;
}

interface Sample {
  seconds: number;
  cpuSeconds: number | undefined;
  peakRssKiB: number | undefined;
}

interface Options {
  rebuild: boolean;
  reps: number;
  allRclone: boolean;
}

function parseOptions(args: string[]): Options {
  const values = parseBenchArgs(args, {
    rebuild: { type: 'boolean', default: false },
    reps: { type: 'string', default: '3' },
    'all-rclone': { type: 'boolean', default: false },
  });
  return {
    rebuild: values.rebuild,
    reps: wholeNumber('reps', values.reps, 1, 20),
    allRclone: values['all-rclone'],
  };
}

/** Every file under `root`, relative, with its size. */
async function localFiles(root: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const entries = await readdir(root, { withFileTypes: true, recursive: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isFile()) continue;
    const abs = join(e.parentPath, e.name);
    out.set(relative(root, abs), (await stat(abs)).size);
  }
  return out;
}

/** What differs between a downloaded tree and the bucket (empty when they match). */
function treeProblems(
  label: string,
  local: ReadonlyMap<string, number>,
  remote: ReadonlyMap<string, ObjectSummary>,
): string[] {
  const missing = [...remote.keys()].filter((k) => !local.has(k));
  const extra = [...local.keys()].filter((k) => !remote.has(k));
  const size = [...remote].filter(([k, o]) => local.has(k) && local.get(k) !== o.size);
  if (missing.length + extra.length + size.length === 0) return [];
  return [
    `${label}: ${missing.length} objects not downloaded (${missing.slice(0, 3).join(', ')}), ${extra.length} files not in the bucket (${extra.slice(0, 3).join(', ')}), ${size.length} of another size`,
  ];
}

/** Every round's trees are kept until the end: refuses to start without room for them (and 10% more). */
async function requireFreeSpace(dir: string, needed: number): Promise<void> {
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  if (free < needed * 1.1)
    throw new PrerequisiteError(
      `the benchmark keeps every round's downloads until it ends: it needs ${fmtBytes(needed)} free under ${dir}, and ${fmtBytes(free)} is free (use fewer --reps, or free some space)`,
    );
}

async function run(args: string[], io: BenchIo): Promise<number> {
  const { out } = io;
  const options = parseOptions(args);
  const { rcloneVersion, tree, s3, ep, client, runner, scratch } = await startTreeBench(io, {
    treeDir: TREE_DIR,
    rebuild: options.rebuild,
    scratchPrefix: 'bucketspace-bench-mirror-',
  });
  if (s3.local) await warmUp(client);
  await bundleBins(BUNDLED_BINS);

  // The bucket: what `bucketspace sync` uploads of the tree (the same objects the sync benchmark makes).
  const bucket = benchBucketName('mirror');
  await createBucket(client, bucket);
  out.write(`uploading the tree to s3://${bucket} (bucketspace sync, untimed)\n`);
  const seeded = await runner.run(
    {
      command: process.execPath,
      args: [CLI, 'sync', '--json'],
      env: bucketspaceEnv({
        workspacesDir: tree.workspacesDir,
        bucket,
        endpoint: ep,
        stateDir: join(scratch, 'sync-state'),
      }),
    },
    TIMEOUT_MS.initial,
  );
  if (seeded.exitCode !== 0) throw new Error(describeFailure('seeding the bucket', seeded));
  const remote = await listObjects(client, bucket);
  const bytes = [...remote.values()].reduce((n, o) => n + o.size, 0);

  const list = tools(options.allRclone);
  await requireFreeSpace(scratch, bytes * list.length * options.reps);
  const samples = new Map<string, Record<Phase, Sample[]>>(
    list.map((t) => [t.id, { initial: [], noop: [] }]),
  );
  const problems: string[] = [];
  const header = [
    ...machineLines({ rcloneVersion, s3: s3Description(s3.local, ep.endpoint) }),
    `bucket: ${fmtCount(remote.size)} objects, ${fmtBytes(bytes)} (the sync benchmark's tree as bucketspace sync uploads it)`,
    `peak RSS: ${runner.rssMethod}, of the tool's own process (node or rclone)`,
    ...list.flatMap((t) => [`${t.label}: ${t.flags}`, ...(t.note ? [`  (${t.note})`] : [])]),
    `runs interleaved: each round times every tool once per phase, the order turning round by round`,
  ];
  out.write(`${header.join('\n')}\n\ntimed runs:\n`);

  for (let rep = 0; rep < options.reps; rep++) {
    const order = list.map((_, i) => list[(i + rep) % list.length] as Tool);
    const dirs = new Map<string, string>();
    for (const phase of PHASES) {
      for (const tool of order) {
        if (phase === 'initial') dirs.set(tool.id, await mkdtemp(join(scratch, `${tool.id}-`)));
        const dir = dirs.get(tool.id) ?? '';
        const res = await runner.run(tool.command(bucket, ep, dir), TIMEOUT_MS[phase]);
        if (res.exitCode !== 0) throw new Error(describeFailure(`${tool.label} (${phase})`, res));
        samples.get(tool.id)?.[phase].push({
          seconds: res.seconds,
          cpuSeconds: res.cpuSeconds,
          peakRssKiB: res.peakRssKiB,
        });
        const moved = tool.transferred(res.stdout, res.stderrTail);
        out.write(
          `  round ${rep + 1} ${PHASE_LABEL[phase].padEnd(32)} ${tool.label.padEnd(18)} ${fmtSeconds(res.seconds).padStart(6)} s  ${fmtSeconds(res.cpuSeconds).padStart(5)} s CPU  ${fmtMiB(res.peakRssKiB).padStart(5)} MiB  ${moved === undefined ? '?' : fmtCount(moved)} files transferred\n`,
        );
        const expected = phase === 'initial' ? remote.size : 0;
        if (moved !== expected)
          problems.push(
            `${tool.label}, round ${rep + 1}, ${phase}: ${moved ?? 'an unknown number of'} files transferred, expected ${expected}`,
          );
        if (phase === 'noop' || rep === 0)
          problems.push(
            ...treeProblems(
              `${tool.label}, round ${rep + 1}, ${phase}`,
              await localFiles(join(dir, bucket)),
              remote,
            ),
          );
      }
    }
    // The trees stay until the benchmark ends (the scratch directory goes then): deleting
    // thousands of files slows the next minutes' file creations on some file systems (ext4
    // without a journal skips recently freed inodes one by one), which would tax the next
    // round's first runs rather than either tool.
  }

  const baseline = list.find((t) => t.baseline) ?? list[1];
  const med = (id: string, phase: Phase, pick: (s: Sample) => number | undefined) =>
    median((samples.get(id)?.[phase] ?? []).flatMap((s) => pick(s) ?? []));
  /** The median of the per-round ratios: each round's runs shared the machine's load. */
  const pairedRatio = (id: string, phase: Phase, pick: (s: Sample) => number | undefined) => {
    const a = samples.get(id)?.[phase] ?? [];
    const b = baseline ? (samples.get(baseline.id)?.[phase] ?? []) : [];
    return median(
      a.flatMap((s, i) => {
        const x = pick(s);
        const y = b[i] ? pick(b[i]) : undefined;
        return x !== undefined && y !== undefined && y > 0 ? [x / y] : [];
      }),
    );
  };
  const wall = (s: Sample) => s.seconds;
  const cpu = (s: Sample) => s.cpuSeconds;
  const rows: string[][] = [
    [
      'phase',
      ...list.flatMap((t) => [`${t.label} s`, 'CPU s', 'MiB']),
      `bucketspace / ${baseline?.label ?? '-'}: time`,
      'CPU',
    ],
  ];
  for (const phase of PHASES)
    rows.push([
      PHASE_LABEL[phase],
      ...list.flatMap((t) => [
        fmtSeconds(med(t.id, phase, wall)),
        fmtSeconds(med(t.id, phase, cpu)),
        fmtMiB(med(t.id, phase, (s) => s.peakRssKiB)),
      ]),
      baseline ? fmtRatio(pairedRatio('ours', phase, wall), 1) : 'n/a',
      baseline ? fmtRatio(pairedRatio('ours', phase, cpu), 1) : 'n/a',
    ]);
  const goals = PHASES.map((phase) => {
    const ratio = baseline ? pairedRatio('ours', phase, wall) : Number.NaN;
    return { phase, ratio, ok: ratio <= 1.0 };
  });
  const report = [
    '',
    '== mirror benchmark ==',
    ...header,
    '',
    formatTable(rows),
    '(seconds, CPU (user + system) and peak RSS: medians of the rounds; ratios: medians of the per-round ratios)',
    '',
    'every timing (s):',
    ...list.map(
      (t) =>
        `  ${t.label}: ${PHASES.map((p) => `${p} ${(samples.get(t.id)?.[p] ?? []).map((s) => fmtSeconds(s.seconds)).join(' ')}`).join('; ')}`,
    ),
    '',
    ...(s3.local
      ? [
          `s3rver (one Node process) serves every download and shares this machine's ${cpus().length} cores with the tool`,
          'being timed: compare the ratios, not the absolute times.',
          '',
        ]
      : []),
    'goals:',
    ...goals.map(
      (g) =>
        `  ${passFail(g.ok)}  ${PHASE_LABEL[g.phase]}: bucketspace <= 1.0x ${baseline?.label ?? 'rclone'} (${fmtRatio(g.ratio, 1)})`,
    ),
    ...(problems.length > 0
      ? [
          '',
          'PROBLEMS (the comparison is not trustworthy until these are fixed):',
          ...problems.map((p) => `  ${p}`),
        ]
      : []),
  ];
  out.write(`${report.join('\n')}\n`);
  return goals.every((g) => g.ok) && problems.length === 0 ? BENCH_EXIT.ok : BENCH_EXIT.goalFailed;
}

export const mirrorBenchmark: Benchmark = {
  name: 'mirror',
  summary: 'mirror download vs rclone copy: into an empty cache, and again; time, peak RSS',
  usage: USAGE,
  run,
};
