// `npm run bench -- deps`: save -> served for a Node app with dependencies, with the
// monitor's dependency cache (reused on code edits) and without it (installed every time).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import Docker from 'dockerode';
import { writeDepsApp } from '../test/support/deps-app.ts';
import { cleanupDocker } from '../test/support/docker.ts';
import {
  BENCH_EXIT,
  PrerequisiteError,
  UsageError,
  type BenchIo,
  type Benchmark,
} from './lib/bench-exit.ts';
import { fmtMs, formatTable, passFail } from './lib/format.ts';
import { machineLines } from './lib/machine.ts';
import { sleep } from './lib/process-cleanup.ts';
import { maxOf, percentile } from './lib/stats.ts';
import { CLI } from './lib/sync-tools.ts';
import { WatcherProcess } from './lib/watcher-process.ts';

const execFileAsync = promisify(execFile);

const USAGE = `usage: npm run bench -- deps [--edits N] [--app express|tarball] [--ca FILE]

Runs \`bucketspace monitor\` on a local workspaces directory (no mount, no S3:
the monitor and the runtime container only; MONITOR_POLL_INTERVAL=250ms,
MONITOR_RESTART_DEBOUNCE=100ms) with one Node app that has dependencies,
twice: RUNTIME_DEPENDENCY_CACHE=true, then false. Each time it waits for the
first start, then edits the app's message.txt N times, one after the other,
and measures save -> the new text served through the monitor's proxy (polled
every 50 ms), and which install each new container did (the API's
deploy.dependencies). Goal: with the cache every code edit reuses the
dependencies, and its p50 is below the p50 without it.

  --edits N     code edits per run (default 5)
  --app A       express: express 4 from the npm registry, locked by the host's
                npm (the host and the containers must reach the registry);
                tarball: one package from a local tarball, no network
                (default express)
  --ca FILE     extra CA bundle for the containers (RUNTIME_CA_BUNDLE; default
                NODE_EXTRA_CA_CERTS when set), for registries behind a proxy`;

const START_TIMEOUT_MS = 300_000;
const SERVED_TIMEOUT_MS = 300_000;
const POLL_MS = 50;
const TOKEN = `bench-${randomBytes(12).toString('hex')}`;

interface DepsOptions {
  edits: number;
  app: 'express' | 'tarball';
  ca: string | undefined;
}

interface RunResult {
  cache: boolean;
  firstStartMs: number;
  edits: { ms: number; dependencies: string }[];
}

function parseOptions(args: string[]): DepsOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        edits: { type: 'string', default: '5' },
        app: { type: 'string', default: 'express' },
        ca: { type: 'string' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const edits = Number(values.edits);
  if (!Number.isInteger(edits) || edits < 1 || edits > 100) {
    throw new UsageError(`--edits must be a whole number from 1 to 100, not "${values.edits}"`);
  }
  if (values.app !== 'express' && values.app !== 'tarball') {
    throw new UsageError(`--app must be express or tarball, not "${values.app}"`);
  }
  const ca = values.ca ?? process.env.NODE_EXTRA_CA_CERTS;
  return { edits, app: values.app, ca: ca === '' ? undefined : ca };
}

const EXPRESS_SERVER = `const express = require('express');
const message = require('node:fs').readFileSync(__dirname + '/message.txt', 'utf8').trim();
const app = express();
app.get('*', (req, res) => res.type('text').send(message));
app.listen(Number(process.env.PORT));
process.on('SIGTERM', () => process.exit(0));
`;

/** express 4, locked by the host's npm (no install on the host, only the lockfile). */
async function writeExpressApp(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({
      name: 'bench-express',
      version: '1.0.0',
      private: true,
      scripts: { start: 'node server.js' },
      dependencies: { express: '4.21.2' },
    }),
  );
  await writeFile(join(dir, 'server.js'), EXPRESS_SERVER);
  await writeFile(join(dir, 'message.txt'), 'edit 0');
  try {
    await execFileAsync(
      'npm',
      ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'],
      { cwd: dir, timeout: 180_000 },
    );
  } catch (err) {
    throw new PrerequisiteError(
      `cannot lock express with the host's npm (${(err as Error).message.split('\n')[0] ?? ''}); ` +
        'run with --app tarball for a benchmark without the registry',
    );
  }
}

/** Poll the app through the monitor until it answers `text`; the time that took, in ms. */
async function waitServed(base: string, text: string, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    const body = await fetch(`${base}/shop/`)
      .then(async (res) => (res.ok ? res.text() : ''))
      .catch(() => '');
    if (body.includes(text)) return performance.now() - started;
    await sleep(POLL_MS);
  }
  throw new Error(`"${text}" was not served within ${timeoutMs / 1000} s`);
}

async function dependenciesOf(base: string): Promise<string> {
  const res = await fetch(`${base}/api/workspaces/shop`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  const body = (await res.json()) as { workspace?: { deploy?: { dependencies?: string } | null } };
  return body.workspace?.deploy?.dependencies ?? 'unknown';
}

async function runOnce(
  options: DepsOptions & { root: string; cache: boolean; docker: Docker },
  io: BenchIo,
): Promise<RunResult> {
  const instance = `bench-deps-${randomBytes(3).toString('hex')}`;
  io.cleanup.defer(() => cleanupDocker(instance, instance));
  const workspaces = join(options.root, options.cache ? 'cache' : 'no-cache');
  const app = join(workspaces, 'shop');
  if (options.app === 'express') await writeExpressApp(app);
  else await writeDepsApp(app, { greeting: 'hello', message: 'edit 0' });
  const monitor = new WatcherProcess({
    command: process.execPath,
    args: [CLI, 'monitor'],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      WORKSPACES_MOUNT: workspaces,
      MONITOR_DATA_DIR: join(options.root, `${instance}-data`),
      MONITOR_PORT: '0',
      MONITOR_HOST: '127.0.0.1',
      MONITOR_TOKEN: TOKEN,
      MONITOR_POLL_INTERVAL: '250ms',
      MONITOR_RESTART_DEBOUNCE: '100ms',
      MONITOR_INSTANCE: instance,
      MONITOR_NETWORK: instance,
      MONITOR_MOUNTS: 'false',
      RUNTIME_DEPENDENCY_CACHE: String(options.cache),
      ...(options.ca === undefined ? {} : { RUNTIME_CA_BUNDLE: options.ca }),
      LOG_LEVEL: 'info',
    },
    cleanup: io.cleanup,
  });
  const started = performance.now();
  await monitor.ready(60_000, 'started monitor');
  const base = `http://127.0.0.1:${String(monitor.first('started monitor')?.port)}`;
  await waitServed(base, 'edit 0', START_TIMEOUT_MS);
  const firstStartMs = performance.now() - started;
  const edits: RunResult['edits'] = [];
  for (let i = 1; i <= options.edits; i++) {
    // Let the replaced container drain and go, as between two saves of a person.
    await sleep(2_000);
    await writeFile(join(app, 'message.txt'), `edit ${i}`);
    const ms = await waitServed(base, `edit ${i}`, SERVED_TIMEOUT_MS);
    edits.push({ ms, dependencies: await dependenciesOf(base) });
    io.out.write(
      `  cache ${options.cache ? 'on ' : 'off'}: edit ${i}/${options.edits} served in ${fmtMs(ms)} ms (${edits.at(-1)?.dependencies ?? ''})\n`,
    );
  }
  await monitor.stop(20_000);
  await cleanupDocker(instance, instance);
  return { cache: options.cache, firstStartMs, edits };
}

async function run(args: string[], io: BenchIo): Promise<number> {
  const options = parseOptions(args);
  const docker = new Docker();
  try {
    await docker.ping();
    await docker.getImage('bucketspace/runtime-node:latest').inspect();
  } catch (err) {
    throw new PrerequisiteError(
      `needs Docker and bucketspace/runtime-node:latest (scripts/build-local-images.sh runtime-node): ${(err as Error).message}`,
    );
  }
  const root = await mkdtemp(join(tmpdir(), 'bench-deps-'));
  io.cleanup.defer(() => rm(root, { recursive: true, force: true }));
  for (const line of machineLines({ rcloneVersion: undefined, s3: 'none (local directory)' })) {
    io.out.write(`${line}\n`);
  }
  io.out.write(
    `app: ${options.app === 'express' ? 'express 4.21.2 from the npm registry (npm ci)' : 'one package from a local tarball (npm ci)'}; ${options.edits} code edits per run\n`,
  );
  const results: RunResult[] = [];
  for (const cache of [true, false]) {
    results.push(await runOnce({ ...options, root, cache, docker }, io));
  }
  const rows = results.map((r) => {
    const times = r.edits.map((e) => e.ms);
    const counts = new Map<string, number>();
    for (const e of r.edits) counts.set(e.dependencies, (counts.get(e.dependencies) ?? 0) + 1);
    return [
      r.cache ? 'on' : 'off',
      fmtMs(r.firstStartMs),
      fmtMs(percentile(times, 50)),
      fmtMs(percentile(times, 95)),
      fmtMs(maxOf(times)),
      [...counts].map(([k, n]) => `${n} ${k}`).join(', '),
    ];
  });
  io.out.write(
    `\n${formatTable([
      ['cache', 'first start ms', 'edit p50 ms', 'edit p95 ms', 'edit max ms', 'dependencies'],
      ...rows,
    ])}\n`,
  );
  const withCache = results.find((r) => r.cache);
  const without = results.find((r) => !r.cache);
  const allReused = withCache?.edits.every((e) => e.dependencies === 'reused') === true;
  const faster =
    percentile(withCache?.edits.map((e) => e.ms) ?? [], 50) <
    percentile(without?.edits.map((e) => e.ms) ?? [], 50);
  io.out.write(
    `\ngoal: every code edit reuses the dependencies: ${passFail(allReused)}; ` +
      `edit p50 with the cache below the p50 without: ${passFail(faster)}\n`,
  );
  return allReused && faster ? BENCH_EXIT.ok : BENCH_EXIT.goalFailed;
}

export const depsBenchmark: Benchmark = {
  name: 'deps',
  summary: 'save -> served for an app with dependencies: dependency cache on vs off',
  usage: USAGE,
  run,
};
