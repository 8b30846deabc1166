// End to end: the real Compose stack of this repository on this machine's
// Docker engine, brought up by testcontainers' DockerComposeEnvironment with
// Compose v2 (every variant) and v1 (the default one), images built locally.
// The local S3 server is replaced by an s3rver container
// (test/e2e/docker-compose.s3rver.yml) and nothing else is changed; the
// bring-your-own-S3 variant runs against s3rver on the host (or the real S3
// of S3_TEST_ENDPOINT). A Node project, a Python project and a static site go
// in; the test watches them reach the bucket (filtered), the FUSE mount, three
// containers and the monitor's routes (and, from inside an app, that the apps
// firewall keeps it from everything of the stack), then edits, deletes, kills
// the mount, restarts the monitor and stops everything with scripts/stack-down.sh.
// The suites live here; each test/stack-e2e-*.test.ts file runs some of them,
// so that the test runner can run the variants side by side (each stack has
// its own project, ports, networks and bucket). Run them all: npm run test:e2e
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { listKeys, testClient } from './bucket.ts';
import {
  ComposeStack,
  composeVersions,
  hostGateway,
  REPO,
  type ComposeVersion,
} from './compose-stack.ts';
import { containersOf, docker, dockerAvailable, volumesOf } from './docker.ts';
import { docker as dockerCli, inspect } from './docker-cli.ts';
import { buildTargets, ensureImages, IMAGE_NAMES } from './images.ts';
import { startTestS3, type TestS3 } from './s3-server.ts';
import { probeFromContainer } from './tcp-probe.ts';
import { eventually } from './watch-process.ts';

const haveDocker = await dockerAvailable();
const skip = haveDocker ? false : 'needs a Docker engine';
const versions = haveDocker ? composeVersions() : [];
/** Compose v2 and v1 when installed (and a Docker engine answers). */
export const v2 = versions.find((v) => v.name === 'v2');
export const v1 = versions.find((v) => v.name === 'v1');

/** What each project answers at GET /<workspace>/. */
const NODE_V1 = 'node:shop v1';
const NODE_V2 = 'node:shop v2';
const PYTHON = 'python:pyapp';
const STATIC = 'static:site';

const nodeServer = (reply: string) =>
  `require('node:http').createServer((req, res) => res.end(${JSON.stringify(`${reply}\n`)}))` +
  `.listen(Number(process.env.PORT), '0.0.0.0');\n`;

/**
 * Edit `i` of a Node app that answers with its own source, `pad` characters
 * longer than its shortest form: what it serves must be exactly what was saved.
 */
function selfServing(i: number, pad: number): string {
  return (
    `// edit ${String(i).padStart(2, '0')} ${'x'.repeat(pad)}\n` +
    `require('node:http').createServer((req, res) => res.end(require('node:fs').readFileSync(__filename)))` +
    `.listen(Number(process.env.PORT), '0.0.0.0');\n`
  );
}

/** 20 successive edits: growing, same-size (same pad, other digits) and shrinking ones. */
const STRESS_PADS = [10, 60, 60, 5, 5, 120, 30, 30, 200, 1, 80, 80, 15, 150, 150, 3, 90, 40, 40, 0];

/**
 * Saves each edit in turn and waits until the app serves exactly it. A 200
 * answer that is neither the previous edit nor the new one (cut, mixed) fails
 * at once; an edit that is never served fails after `perEditMs`.
 */
async function stressEdits(
  stack: ComposeStack,
  file: string,
  perEditMs: number,
  pads: readonly number[] = STRESS_PADS,
): Promise<number[]> {
  const took: number[] = [];
  let previous = (await get(stack, '/shop/')).body;
  for (const [i, pad] of pads.entries()) {
    const body = selfServing(i + 1, pad);
    const t0 = Date.now();
    await writeFile(file, body);
    let wrong: string | undefined;
    await eventually(
      `edit ${i + 1} of ${pads.length} (${body.length} bytes, was ${previous.length}) served exactly`,
      async () => {
        const r = await get(stack, '/shop/');
        if (r.status === 200 && r.body !== body && r.body !== previous) wrong = r.body;
        return wrong !== undefined || (r.status === 200 && r.body === body);
      },
      perEditMs,
    );
    assert.equal(wrong, undefined, `edit ${i + 1}: served content that was never saved`);
    took.push(Date.now() - t0);
    previous = body;
  }
  return took;
}

/**
 * The static site's files. On a real S3 server (S3_TEST_ENDPOINT) it is only
 * `public/index.html`, the layout people use. s3rver 3.7.1 leaves a prefix
 * whose objects are all nested out of a delimiter listing, so on s3rver the
 * mount would never show that workspace: there the site has its page at the
 * top level instead (what this test checks is the same either way).
 */
function staticSite(realServer: boolean): Record<string, string> {
  const page = `<!doctype html><title>site</title><p>${STATIC}</p>\n`;
  return realServer ? { 'site/public/index.html': page } : { 'site/index.html': page };
}

/** The three projects, written into `root` (a local dir or the direct mount). */
async function writeProjects(
  root: string,
  options: { withExcluded: boolean; realServer: boolean; pythonDependencies?: boolean },
): Promise<void> {
  const put = async (rel: string, body: string) => {
    const path = join(root, rel);
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, body);
  };
  await put(
    'shop/package.json',
    JSON.stringify({ name: 'shop', version: '1.0.0', scripts: { start: 'node server.js' } }),
  );
  await put('shop/server.js', nodeServer(NODE_V1));
  await put(
    'pyapp/app.py',
    [
      'import os',
      'from http.server import BaseHTTPRequestHandler, HTTPServer',
      'class H(BaseHTTPRequestHandler):',
      '    def do_GET(self):',
      `        body = b"${PYTHON}\\n"`,
      '        self.send_response(200)',
      '        self.send_header("Content-Length", str(len(body)))',
      '        self.end_headers()',
      '        self.wfile.write(body)',
      'HTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()',
      '',
    ].join('\n'),
  );
  for (const [rel, body] of Object.entries(staticSite(options.realServer))) await put(rel, body);
  if (options.pythonDependencies === true) {
    // An install with nothing to download: the app gets a venv, kept in a dependency cache.
    await put('pyapp/requirements.txt', '# nothing to download here\n');
  }
  if (options.withExcluded) {
    // What a developer's tree has and the bucket must never get.
    await put('shop/node_modules/left-pad/index.js', 'module.exports = 1;\n');
    await put('shop/.env', 'SECRET=do-not-upload\n');
    await put('shop/dist/bundle.js', '// build output\n');
    await put('shop/.gitignore', 'coverage/\n');
    await put('shop/coverage/lcov.info', 'TN:\n');
    await put('pyapp/__pycache__/app.cpython-312.pyc', 'bytecode');
  }
}

async function get(stack: ComposeStack, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(stack.url(path), { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

async function answers(stack: ComposeStack, path: string, text: string): Promise<boolean> {
  const r = await get(stack, path);
  return r.status === 200 && r.body.includes(text);
}

/** Running app containers of the stack, by workspace (more than one only mid-swap). */
async function runningByWorkspace(stack: ComposeStack): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const c of await containersOf(stack.env.MONITOR_INSTANCE!)) {
    if (c.State !== 'running') continue;
    const ws = c.Labels['bucketspace.workspace'];
    if (ws !== undefined) out.set(ws, [...(out.get(ws) ?? []), c.Id]);
  }
  return out;
}

/** One running container per workspace: workspace -> container id. */
async function appContainers(stack: ComposeStack): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [ws, ids] of await runningByWorkspace(stack)) {
    assert.equal(ids.length, 1, `one running container for ${ws}, got ${ids.length}`);
    out.set(ws, ids[0]!);
  }
  return out;
}

/** A script of this repository, run as a user would; never rejects. */
function runScript(
  script: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      join(REPO, script),
      args,
      {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: process.env.HOME ?? '/root',
          ...env,
        },
        timeout: 600_000,
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) =>
        resolve({
          code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1,
          stdout,
          stderr,
        }),
    );
  });
}

/** The stack's settings as a user's .env holds them, in the stack's directory; returns its path. */
async function writeEnvFile(stack: ComposeStack, name: string): Promise<string> {
  const envFile = join(stack.dir, name);
  await writeFile(
    envFile,
    Object.entries(stack.env)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
    { mode: 0o600 },
  );
  return envFile;
}

/**
 * scripts/setup-s3-mount.sh as a user runs it, on this stack: its settings in
 * an env file (kept: the script only fills in a missing one and records the
 * Compose files in it), the test's Compose override as an extra file, and
 * --migrate for the upload.
 */
async function runSetup(stack: ComposeStack, variantName: string): Promise<string> {
  const envFile = await writeEnvFile(stack, 'stack.env');
  const { code, stderr } = await runScript(
    'scripts/setup-s3-mount.sh',
    ['--variant', variantName, '-f', join(REPO, 'test/e2e/docker-compose.s3rver.yml'), '--migrate'],
    { BUCKETSPACE_ENV_FILE: envFile },
  );
  assert.equal(code, 0, `setup-s3-mount.sh failed:\n${stderr}`);
  return stderr;
}

/** A script that reads the stack's Compose files and settings as Compose does (COMPOSE_FILE). */
function runStackScript(stack: ComposeStack, script: string, args: string[]) {
  return runScript(script, args, {
    ...stack.composeEnv(),
    COMPOSE_FILE: stack.composeFileSetting(),
  });
}

/**
 * Wait until the mount container has restarted (more than `restarts`), is
 * healthy, and the host sees the workspaces again; resolves with the time taken.
 */
async function mountBack(stack: ComposeStack, mount: string, restarts: number): Promise<number> {
  const took = await eventually(
    'the mount container restarted and healthy',
    async () =>
      Number(await inspect(mount, '{{.RestartCount}}')) > restarts &&
      (await inspect(mount, '{{.State.Health.Status}}')) === 'healthy',
    120_000,
  );
  await eventually(
    'the mount readable on the host again',
    async () => (await readdir(join(stack.mountRoot, 'workspaces'))).includes('shop'),
    60_000,
  );
  return took;
}

/** How long one edit of the stress test may take to be served: far more than it should. */
const STRESS_EDIT_MS = 60_000;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

const EXCLUDED = /(^|\/)(node_modules|dist|coverage|__pycache__)\/|(^|\/)\.env|\.pyc$/;

export interface Variant {
  name: string;
  compose: ComposeVersion;
  /** Compose files after docker-compose.yml. */
  files: string[];
  /** Direct mount: projects are written into the mount, there is no sync service. */
  direct: boolean;
  env?: Record<string, string>;
  https?: boolean;
  /** Started by scripts/setup-s3-mount.sh --variant <this> (with --migrate) instead of `compose up`. */
  viaSetupScript?: string;
  /** Your own S3 (docker-compose.external-s3.yml): s3rver on the host, or S3_TEST_ENDPOINT. */
  externalS3?: boolean;
  /** Kill the mount container and its FUSE process (default true). */
  mountKills?: boolean;
  /** Restart the monitor and check that it adopts the apps. */
  adoption?: boolean;
  /** The 20-edit stress test (default true). */
  stress?: boolean;
  /** scripts/stack-down.sh; `restart`: `up` again before --forget. */
  stackDown?: { restart: boolean };
  /** `s3-workspace-sync.sh restore` brings the deleted project back from the trash. */
  restore?: boolean;
}

/** The monitor's dependency-cache volumes of one instance (not Compose's), and their workspaces. */
async function dependencyCaches(
  instance: string,
): Promise<{ names: string[]; workspaces: string[] }> {
  const volumes = await volumesOf(instance);
  return {
    names: volumes.map((v) => v.Name).sort(),
    workspaces: volumes.map((v) => v.Labels['bucketspace.workspace'] ?? '').sort(),
  };
}

/** The mount container and its FUSE process killed: the apps keep running and the mount comes back. */
function mountKillTests(
  variant: Variant,
  current: () => ComposeStack,
  timings: Record<string, number>,
): void {
  test('killing the mount container removes no app container, and the mount recovers', async () => {
    const stack = current();
    const before = await appContainers(stack);
    const mount = await stack.containerOf('mount');
    const restarts = Number(await inspect(mount, '{{.RestartCount}}'));
    const pid = Number(await inspect(mount, '{{.State.Pid}}'));
    assert.ok(pid > 1, `mount container pid ${pid}`);
    process.kill(pid, 'SIGKILL');
    timings.mountRecovery = await mountBack(stack, mount, restarts);
    await eventually(
      'the monitor healthy again',
      async () => (await get(stack, '/healthz')).status === 200,
      60_000,
    );
    const afterKill = await appContainers(stack);
    assert.deepEqual(afterKill, before, 'the same app containers, none removed or replaced');
    assert.ok(await answers(stack, '/shop/', NODE_V2));
  });

  test('a mount whose FUSE process dies inside the container is detected, detached and remounted', async () => {
    const stack = current();
    const mount = await stack.containerOf('mount');
    const restarts = Number(await inspect(mount, '{{.RestartCount}}'));
    const program = variant.name === 's3fs' ? 's3fs' : 'rclone';
    // The container stays up; only the mount goes stale (ENOTCONN).
    await dockerCli(['exec', mount, 'sh', '-c', `kill -9 $(pidof ${program})`]);
    await mountBack(stack, mount, restarts);
    const logs = await stack.compose(['logs', '--no-color', 'mount']);
    assert.match(logs.stdout, /exiting so the container restarts/);
    assert.ok(await answers(stack, '/shop/', NODE_V2), 'the app kept serving');
  });
}

/**
 * The smoke test of one variant: it goes up, serves the three projects,
 * follows an edit, survives the mount being killed, and drops a deleted project.
 */
export function smoke(variant: Variant): void {
  describe(`stack (${variant.compose.name}): ${variant.name}`, { skip, timeout: 900_000 }, () => {
    let stack: ComposeStack;
    let setupOutput = '';
    let outside: TestS3 | undefined;
    let bucket = 'workspaces';
    let client: S3Client | undefined;
    const bucketClient = () => {
      if (client === undefined) throw new Error('no S3 client');
      return client;
    };
    const realServer = variant.externalS3 === true && process.env.S3_TEST_ENDPOINT !== undefined;
    const timings: Record<string, number> = {};

    before(async () => {
      // The defaults: deleting a project's directory moves it to the trash.
      const env: Record<string, string> = { ...variant.env };
      if (variant.externalS3) {
        // The outside S3, listening where containers reach the host.
        outside = await startTestS3({ address: await hostGateway() });
        bucket = outside.newBucketName();
        client = testClient(outside);
        await client.send(new CreateBucketCommand({ Bucket: bucket }));
        Object.assign(env, outside.env(bucket));
      }
      stack = await ComposeStack.create(variant.name, {
        files: variant.files,
        env,
        compose: variant.compose,
        s3rver: variant.externalS3 !== true,
      });
      client ??= stack.s3();
      if (!variant.direct) {
        await writeProjects(stack.workspacesDir, {
          withExcluded: true,
          realServer,
          pythonDependencies: variant.stackDown !== undefined,
        });
      }
      const t0 = Date.now();
      if (variant.viaSetupScript !== undefined) {
        setupOutput = await runSetup(stack, variant.viaSetupScript);
      } else {
        await stack.up();
      }
      timings.up = Date.now() - t0;
    });

    after(async () => {
      if (stack === undefined) return;
      console.log(
        `${variant.compose.name} ${variant.name} timings (ms): ${JSON.stringify(timings)}`,
      );
      if (process.env.BUCKETSPACE_TEST_KEEP_STACK === 'true') {
        console.log(`kept stack ${stack.project} (${stack.dir})`);
        return;
      }
      await stack.destroy();
      client?.destroy();
      await outside?.close();
    });

    test('every service is up; the mount and the monitor are healthy', async () => {
      const healthChecked = variant.externalS3
        ? ['mount', 'monitor']
        : ['minio', 'mount', 'monitor'];
      for (const service of healthChecked) {
        const id = await stack.containerOf(service);
        await eventually(
          `${service} healthy`,
          async () => (await inspect(id, '{{.State.Health.Status}}')) === 'healthy',
          120_000,
        );
      }
      const sync = (await stack.containers('sync')).filter((c) => c.State === 'running');
      assert.equal(sync.length, variant.direct ? 0 : 1, 'sync runs unless direct mount');
      if (variant.externalS3) {
        assert.deepEqual(await stack.containers('minio'), [], 'no local S3 server');
      }
      for (const oneShot of ['check', 'bucket']) {
        const id = await stack.containerOf(oneShot);
        assert.equal(await inspect(id, '{{.State.ExitCode}}'), '0', `${oneShot} exit code`);
      }
      // Least privilege for FUSE: SYS_ADMIN and /dev/fuse, never privileged.
      const mount = await stack.containerOf('mount');
      assert.equal(await inspect(mount, '{{.HostConfig.Privileged}}'), 'false');
      assert.match(await inspect(mount, '{{json .HostConfig.CapAdd}}'), /SYS_ADMIN/);
      const monitor = await stack.containerOf('monitor');
      // The monitor dropped root: its process runs as 10001 with no capabilities.
      const status = await dockerCli(['exec', monitor, 'cat', '/proc/1/task/1/status']);
      // tini's child is the monitor (`pidof node` could also name a health
      // check's node process, run as root by `docker exec`).
      const children = await dockerCli(['exec', monitor, 'cat', '/proc/1/task/1/children']);
      const nodePid = children.trim().split(/\s+/)[0] ?? '';
      assert.match(nodePid, /^\d+$/, `tini's child: ${children}`);
      const nodeStatus = await dockerCli(['exec', monitor, 'cat', `/proc/${nodePid}/status`]);
      assert.match(status, /^Uid:\s+0/m, 'tini starts as root');
      assert.match(nodeStatus, /^Uid:\s+10001\s/m);
      assert.match(nodeStatus, /^CapEff:\s+0+$/m);
    });

    if (variant.viaSetupScript !== undefined) {
      test('setup-s3-mount.sh started it, uploaded the workspaces and said where everything is', () => {
        assert.match(setupOutput, /ok +Compose v[12]/);
        assert.match(setupOutput, /exists \(kept as it is\)/);
        assert.match(
          setupOutput,
          /ok +COMPOSE_FILE=docker-compose\.yml:docker-compose\.s3fs\.yml:test\/e2e\/docker-compose\.s3rver\.yml written/,
        );
        assert.match(setupOutput, /ok +every image the stack needs is here or can be pulled/);
        assert.match(setupOutput, /ok +settings accepted/);
        assert.match(setupOutput, /is on a shared mount/);
        assert.match(setupOutput, /ok +the stack is up/);
        assert.match(setupOutput, /ok +uploaded 3 workspaces/);
        assert.match(
          setupOutput,
          new RegExp(`Dashboard: +http://127\\.0\\.0\\.1:${stack.env.MONITOR_ADMIN_PORT}/monitor`),
        );
        assert.match(setupOutput, /Stop it all: +scripts\/stack-down\.sh/);
      });

      test('a later plain `docker compose up -d` uses the files the setup recorded: nothing is recreated', async () => {
        const running = new Set(
          (await stack.containers()).filter((c) => c.State === 'running').map((c) => c.Id),
        );
        const envFile = join(stack.dir, 'stack.env');
        assert.match(await readFile(envFile, 'utf8'), /^COMPOSE_FILE=.*docker-compose\.s3fs\.yml/m);
        // No -f: the files come from COMPOSE_FILE in the env file, as from a user's .env.
        const up = await stack.compose(['--env-file', envFile, 'up', '-d'], { files: false });
        assert.equal(up.code, 0, up.stderr);
        const mount = await stack.containerOf('mount');
        assert.ok(running.has(mount), 'the mount container is the one the setup started');
        assert.equal(await inspect(mount, '{{.Config.Image}}'), 'bucketspace/mount-s3fs:latest');
        for (const c of await stack.containers()) {
          if (c.State === 'running') assert.ok(running.has(c.Id), `recreated: ${c.Id}`);
        }
      });
    }

    if (variant.direct) {
      test('projects written into the mount reach the bucket; excluded objects stay hidden', async () => {
        const mounted = join(stack.mountRoot, 'workspaces');
        await writeProjects(mounted, { withExcluded: false, realServer });
        await eventually(
          'the projects in the bucket',
          async () => {
            const keys = await listKeys(bucketClient(), bucket);
            return ['shop/server.js', 'pyapp/app.py', ...Object.keys(staticSite(realServer))].every(
              (k) => keys.includes(k),
            );
          },
          60_000,
        );
        // Objects the mount's filter excludes (put there by another tool)
        // are never shown to the monitor or the containers.
        for (const key of ['shop/node_modules/x/index.js', 'shop/.env', 'shop/dist/app.js']) {
          await bucketClient().send(
            new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'hidden' }),
          );
        }
        await new Promise((r) => setTimeout(r, 6000)); // past rclone's directory cache
        const shown = await readdir(join(mounted, 'shop'));
        assert.deepEqual(shown.sort(), ['package.json', 'server.js']);
      });
    } else {
      test('the bucket holds the sources and none of node_modules, .env, build output', async () => {
        let keys: string[] = [];
        timings.bucket = await eventually(
          'the projects in the bucket',
          async () => {
            keys = await listKeys(bucketClient(), bucket);
            return ['shop/server.js', 'pyapp/app.py', ...Object.keys(staticSite(realServer))].every(
              (k) => keys.includes(k),
            );
          },
          120_000,
        );
        assert.deepEqual(
          keys.filter((k) => EXCLUDED.test(k)),
          [],
        );
        assert.deepEqual(keys.filter((k) => k.startsWith('shop/')).sort(), [
          'shop/.gitignore',
          'shop/package.json',
          'shop/server.js',
        ]);
      });

      test('the mount shows them on the host', async () => {
        const mounted = join(stack.mountRoot, 'workspaces');
        await eventually(
          'the projects under the mount',
          async () => {
            const names = await readdir(mounted);
            return ['shop', 'pyapp', 'site'].every((n) => names.includes(n));
          },
          60_000,
        );
        assert.deepEqual((await readdir(join(mounted, 'shop'))).sort(), [
          '.gitignore',
          'package.json',
          'server.js',
        ]);
        assert.equal(
          await readFile(join(mounted, 'shop', 'server.js'), 'utf8'),
          nodeServer(NODE_V1),
        );
      });
    }

    test('the monitor starts three containers and routes /<workspace> to each', async () => {
      timings.serving = await eventually(
        'three projects answering through the monitor',
        async () =>
          (await answers(stack, '/shop/', NODE_V1)) &&
          (await answers(stack, '/pyapp/', PYTHON)) &&
          (await answers(stack, '/site/', STATIC)),
        240_000,
      );
      assert.deepEqual([...(await appContainers(stack)).keys()].sort(), ['pyapp', 'shop', 'site']);
      const api = await stack.api('/api/workspaces');
      assert.equal(api.status, 200);
      const { workspaces } = (await api.json()) as {
        workspaces: Array<{ name: string; state: string; detection?: { type?: string } }>;
      };
      const byName = Object.fromEntries(workspaces.map((w) => [w.name, w]));
      assert.equal(byName.shop?.state, 'running');
      assert.equal(byName.pyapp?.state, 'running');
      assert.equal(byName.site?.state, 'running');
    });

    test("apps are not kept apart: in the stack, an app reaches none of the stack's services, the monitor, the host or another app", async () => {
      const health = (await (await fetch(stack.adminUrl('/healthz'))).json()) as {
        isolation?: string;
      };
      assert.equal(health.isolation, 'on', 'the monitor put the apps firewall in place');
      const apps = await appContainers(stack);
      const addressesOf = async (id: string) =>
        Object.values(
          JSON.parse(await inspect(id, '{{json .NetworkSettings.Networks}}')) as Record<
            string,
            { IPAddress: string }
          >,
        )
          .map((n) => n.IPAddress)
          .filter((a) => a !== '');
      const targets: string[] = [];
      const add = async (id: string, ports: Array<string | number>) => {
        for (const a of await addressesOf(id)) for (const p of ports) targets.push(`${a}:${p}`);
      };
      // The monitor's apps and admin ports, on each network it is on.
      await add(await stack.containerOf('monitor'), [
        stack.env.MONITOR_PORT!,
        stack.env.MONITOR_ADMIN_PORT!,
      ]);
      // Another app, on the port it serves.
      const pyapp = apps.get('pyapp')!;
      const pyappPort = /"PORT=(\d+)"/.exec(await inspect(pyapp, '{{json .Config.Env}}'))?.[1];
      await add(pyapp, [pyappPort!]);
      // The S3 server (in the stack, or on the host), the mount, the sync (9: nothing listens).
      if (variant.externalS3 !== true) await add(await stack.containerOf('minio'), [9000]);
      if (outside?.local === true) targets.push(new URL(outside.endpoint).host);
      await add(await stack.containerOf('mount'), [9]);
      if (!variant.direct) await add(await stack.containerOf('sync'), [9]);
      // The host, at the apps network's gateway.
      const net = await docker.getNetwork(stack.env.MONITOR_NETWORK!).inspect();
      targets.push(`${net.IPAM?.Config?.[0]?.Gateway}:${stack.env.MONITOR_ADMIN_PORT}`);
      assert.ok(targets.length >= 7, targets.join(' '));
      const got = await probeFromContainer(apps.get('shop')!, targets);
      assert.deepEqual(got, Object.fromEntries(targets.map((t) => [t, 'EHOSTUNREACH'])));
    });

    test('the apps port serves no API and only redirects the dashboard to the admin port', async () => {
      const api = await fetch(stack.url('/api/workspaces'), {
        headers: { authorization: `Bearer ${stack.env.MONITOR_TOKEN}` },
        redirect: 'manual',
      });
      assert.equal(api.status, 404, 'no API on the apps origin, whatever the token');
      const dashboard = await fetch(stack.url('/monitor'), { redirect: 'manual' });
      assert.equal(dashboard.status, 302);
      const location = new URL(dashboard.headers.get('location') ?? '');
      assert.equal(location.port, stack.env.MONITOR_ADMIN_PORT);
      assert.equal(location.pathname, '/monitor');
      const admin = await fetch(stack.adminUrl('/monitor'), { redirect: 'manual' });
      assert.equal(admin.status, 401, 'the dashboard asks for its token on the admin port');
      assert.match(await admin.text(), /<form/i);
      assert.equal((await fetch(stack.adminUrl('/shop/'))).status, 404, 'no app on the admin port');
    });

    test('editing a file changes the response within seconds', async () => {
      const root = variant.direct ? join(stack.mountRoot, 'workspaces') : stack.workspacesDir;
      await writeFile(join(root, 'shop', 'server.js'), nodeServer(NODE_V2));
      const old = (await appContainers(stack)).get('shop');
      timings.edit = await eventually(
        'the edited project answering',
        () => answers(stack, '/shop/', NODE_V2),
        90_000,
      );
      // The new container serves before the old one goes; then the old one goes.
      await eventually(
        'the old container removed',
        async () => {
          const ids = (await runningByWorkspace(stack)).get('shop') ?? [];
          return ids.length === 1 && ids[0] !== old;
        },
        60_000,
      );
    });

    if (variant.adoption) {
      test('a restarted monitor adopts the running apps: none is replaced', async () => {
        const before = await appContainers(stack);
        await stack.mustCompose(['restart', '-t', '5', 'monitor']);
        const monitor = await stack.containerOf('monitor');
        await eventually(
          'the monitor healthy again',
          async () => (await inspect(monitor, '{{.State.Health.Status}}')) === 'healthy',
          120_000,
        );
        assert.deepEqual(await appContainers(stack), before);
        assert.ok(await answers(stack, '/shop/', NODE_V2));
      });
    }

    if (variant.mountKills !== false) mountKillTests(variant, () => stack, timings);

    if (variant.https) {
      test('Caddy serves the apps on DOMAIN and the dashboard and API on monitor.DOMAIN only', async () => {
        const caddy = await stack.containerOf('caddy');
        const domain = stack.env.DOMAIN!;
        // Caddy's own CA for *.localhost: the test trusts exactly that root.
        let ca = '';
        await eventually(
          "Caddy's local root certificate",
          async () => {
            ca = await dockerCli([
              'exec',
              caddy,
              'cat',
              '/data/caddy/pki/authorities/local/root.crt',
            ]);
            return ca.includes('BEGIN CERTIFICATE');
          },
          60_000,
        );
        const viaCaddy = (host: string, path: string, token?: string) =>
          new Promise<{ status: number; body: string }>((resolve) => {
            const req = httpsRequest(
              {
                host: '127.0.0.1',
                port: Number(stack.env.HTTPS_PORT),
                path,
                servername: host,
                headers: { host, ...(token ? { authorization: `Bearer ${token}` } : {}) },
                ca,
                timeout: 5000,
              },
              (res) => {
                let body = '';
                res.setEncoding('utf8');
                res.on('data', (c: string) => (body += c));
                res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
              },
            );
            req.on('error', (err) => resolve({ status: 0, body: err.message }));
            req.end();
          });
        await eventually(
          'GET https://DOMAIN/shop/ through Caddy',
          async () => {
            const r = await viaCaddy(domain, '/shop/');
            return r.status === 200 && r.body.includes(NODE_V2);
          },
          60_000,
        );
        const token = stack.env.MONITOR_TOKEN!;
        let admin = { status: 0, body: '' };
        await eventually(
          'GET https://monitor.DOMAIN/api/workspaces through Caddy',
          async () => {
            admin = await viaCaddy(`monitor.${domain}`, '/api/workspaces', token);
            return admin.status === 200;
          },
          60_000,
        );
        assert.match(admin.body, /"name":"shop"/);
        assert.equal((await viaCaddy(domain, '/api/workspaces', token)).status, 404);
        assert.equal((await viaCaddy(`monitor.${domain}`, '/shop/')).status, 404);
      });
    }

    test('deleting a project removes its container and its route', async () => {
      const root = variant.direct ? join(stack.mountRoot, 'workspaces') : stack.workspacesDir;
      if (!variant.direct && !realServer) {
        // s3rver lists a prefix with a delimiter only from the objects one level down (it does
        // not walk deeper), so `.trash/` and `.trash/site/`, which hold only deeper prefixes,
        // would be missing from the mount; S3 and MinIO list them. One object per level
        // stands in for that (neither is an entry: the listing shows only entries), put there
        // before the delete, as the trash's own levels would be listed on a real server.
        for (const key of ['.trash/level.txt', '.trash/site/level.txt'])
          await bucketClient().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: '' }));
      }
      await rm(join(root, 'site'), { recursive: true, force: true });
      timings.delete = await eventually(
        'the deleted project gone',
        async () =>
          !(await appContainers(stack)).has('site') && (await get(stack, '/site/')).status === 404,
        120_000,
      );
      assert.ok(await answers(stack, '/shop/', NODE_V2), 'the others keep serving');
      assert.ok(await answers(stack, '/pyapp/', PYTHON));
      if (variant.direct) return; // deleted in the mount: rclone deletes the objects itself
      // By default, into the trash: in the bucket, and on the dashboard's API through the mount.
      const page = Object.keys(staticSite(realServer))[0]!.slice('site/'.length);
      const trashed = await listKeys(bucketClient(), bucket, '.trash/site/');
      assert.deepEqual(
        trashed
          .filter((k) => k !== '.trash/site/level.txt')
          .map((k) => k.replace(/^\.trash\/site\/[^/]+\//, '')),
        [page],
      );
      let answer = '';
      await eventually(
        'the dashboard lists the deleted project in the trash',
        async () => {
          const res = await stack.api('/api/trash');
          answer = `${res.status} ${await res.clone().text()}`;
          const { trash } = (await res.json()) as {
            trash: { workspace: string; workspaceExists: boolean; restore: string }[];
          };
          return trash.some(
            (t) =>
              t.workspace === 'site' &&
              !t.workspaceExists &&
              t.restore.startsWith('bucketspace sync restore site --at '),
          );
        },
        60_000,
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}; GET /api/trash answered ${answer}`);
      });
      if (variant.restore !== true) return;

      // The restore, on the host as the README says for Compose: the files come back into
      // ./workspaces, the stack's `sync watch` sees them, the monitor serves the project again.
      const restored = await runScript('scripts/s3-workspace-sync.sh', ['restore', 'site'], {
        BUCKETSPACE_ENV_FILE: await writeEnvFile(stack, 'restore.env'),
        SYNC_STATE_DIR: join(stack.dir, 'host-sync-state'),
      });
      assert.equal(restored.code, 0, restored.stdout + restored.stderr);
      assert.match(restored.stdout, /restored 1 files .* into .*site/);
      timings.restore = await eventually(
        'the restored project served again',
        async () => await answers(stack, '/site/', STATIC),
        120_000,
      );
      assert.deepEqual(
        (await listKeys(bucketClient(), bucket, '.trash/site/')).filter(
          (k) => !k.endsWith('/level.txt'),
        ),
        [],
        'the entry left the trash',
      );
    });

    if (variant.stress !== false) {
      test('20 successive edits of one file, growing, same-size and shrinking: each served exactly', async () => {
        const root = variant.direct ? join(stack.mountRoot, 'workspaces') : stack.workspacesDir;
        const took = await stressEdits(stack, join(root, 'shop', 'server.js'), STRESS_EDIT_MS);
        timings.stressP50 = percentile(took, 50);
        timings.stressMax = Math.max(...took);
        console.log(`${variant.compose.name} ${variant.name} stress edits (ms): ${took.join(' ')}`);
        // Back to what the other tests expect.
        await writeFile(join(root, 'shop', 'server.js'), nodeServer(NODE_V2));
        await eventually(
          'v2 served again',
          () => answers(stack, '/shop/', NODE_V2),
          STRESS_EDIT_MS,
        );
      });
    }

    if (variant.stackDown !== undefined) {
      const { restart } = variant.stackDown;
      test('scripts/stack-down.sh stops everything, apps included, and keeps the data', async () => {
        const instance = stack.env.MONITOR_INSTANCE!;
        assert.ok((await containersOf(instance)).length >= 2, 'apps run before');
        const caches = await dependencyCaches(instance);
        assert.deepEqual(caches.workspaces, ['pyapp'], "the python app's venv is kept in a volume");
        const down = await runStackScript(stack, 'scripts/stack-down.sh', ['-t', '5']);
        assert.equal(down.code, 0, down.stderr);
        assert.match(down.stderr, /stopping and removing \d+ app containers/);
        assert.deepEqual(
          await containersOf(instance),
          [],
          'no container labelled bucketspace.managed-by',
        );
        assert.deepEqual(await stack.containers(), [], 'no container of the stack');
        assert.ok(
          (await stack.volumes()).includes(`${stack.project}_minio-data`),
          'the S3 data volume is kept',
        );
        assert.deepEqual(
          (await dependencyCaches(instance)).names,
          caches.names,
          'the dependency caches are kept',
        );
      });

      if (restart) {
        test('after stack-down, `up` brings every app back from the kept bucket', async () => {
          const t0 = Date.now();
          await stack.up();
          timings.upAgain = Date.now() - t0;
          await eventually(
            'the projects answering again',
            async () =>
              (await answers(stack, '/shop/', NODE_V2)) &&
              (await answers(stack, '/pyapp/', PYTHON)),
            240_000,
          );
          const pyapp = await stack.api('/api/workspaces/pyapp');
          const { workspace } = (await pyapp.json()) as {
            workspace: { deploy?: { dependencies?: string } };
          };
          assert.equal(
            workspace.deploy?.dependencies,
            'reused',
            'the venv kept by stack-down is used',
          );
        });
      }

      test('scripts/stack-down.sh --forget also removes every volume', async () => {
        assert.ok((await stack.volumes()).length > 0, 'volumes before');
        const forget = await runStackScript(stack, 'scripts/stack-down.sh', [
          '-t',
          '5',
          '--forget',
          '-y',
        ]);
        assert.equal(forget.code, 0, forget.stderr);
        assert.deepEqual(await containersOf(stack.env.MONITOR_INSTANCE!), []);
        assert.deepEqual(await stack.containers(), []);
        assert.deepEqual(await stack.volumes(), [], 'every volume of the stack is gone');
        assert.deepEqual(
          (await dependencyCaches(stack.env.MONITOR_INSTANCE!)).names,
          [],
          "the apps' dependency caches are gone",
        );
        assert.match(forget.stderr, /removing 1 dependency caches of the apps/);
      });
    }
  });
}

/** The images every stack needs, built when missing: call once at the top of a test file. */
export function beforeStackTests(): void {
  before(async () => {
    if (!haveDocker) return;
    await ensureImages([...IMAGE_NAMES]);
    // The S3 server's container (node) and the HTTPS front (Caddy) of the test.
    await buildTargets(['base-node', 'base-caddy']);
  });
}

/** The credentials check: placeholder and default keys stop the stack, saying why. */
export function credentialsChecks(): void {
  describe('stack: the credentials check', { skip, timeout: 300_000 }, () => {
    test("MinIO's default credentials stop the stack before the S3 server starts; stack-doctor.sh says why", async () => {
      const stack = await ComposeStack.create('check');
      try {
        delete stack.env.MINIO_ROOT_USER;
        delete stack.env.MINIO_ROOT_PASSWORD;
        const refused = await stack.compose(['up', '-d', '--no-build', 'minio'], {
          timeoutMs: 120_000,
        });
        assert.notEqual(refused.code, 0);
        // v2 creates the container of a service whose dependency failed, but
        // never starts it; v1 does not create it.
        for (const minio of await stack.containers('minio')) {
          assert.equal(minio.State, 'created', 'the S3 server never ran');
        }
        const check = await stack.containerOf('check');
        assert.equal(await inspect(check, '{{.State.ExitCode}}'), '3');
        // What `up -d` does not say, the doctor does: the reason, where the user looks.
        const doctor = await runStackScript(stack, 'scripts/stack-doctor.sh', []);
        assert.equal(doctor.code, 1);
        assert.match(doctor.stdout, /check: exited with code 3/);
        assert.match(doctor.stdout, /MinIO's default credentials/);
        assert.match(doctor.stdout, /scripts\/setup-s3-mount\.sh/);
        assert.match(doctor.stdout, /BUCKETSPACE_LOCAL_ONLY=true/);

        // Saying it is local-only lets it through, with everything on loopback.
        stack.env.BUCKETSPACE_LOCAL_ONLY = 'true';
        const local = await stack.compose(['run', '--rm', 'check']);
        assert.equal(local.code, 0, local.stderr);
        stack.env.MONITOR_BIND = '0.0.0.0';
        const exposed = await stack.compose(['run', '--rm', 'check']);
        assert.equal(exposed.code, 3);
        assert.match(exposed.stdout + exposed.stderr, /MONITOR_BIND=0\.0\.0\.0/);
        stack.env.MONITOR_BIND = '127.0.0.1';
        stack.env.MONITOR_ADMIN_BIND = '0.0.0.0';
        const dashboardExposed = await stack.compose(['run', '--rm', 'check']);
        assert.equal(dashboardExposed.code, 3);
        assert.match(
          dashboardExposed.stdout + dashboardExposed.stderr,
          /MONITOR_ADMIN_BIND=0\.0\.0\.0/,
        );
      } finally {
        await stack.destroy();
      }
    });

    test('your own S3: placeholder keys are refused, and a missing bucket is named, not created', async () => {
      const stack = await ComposeStack.create('ownchk', {
        files: ['docker-compose.external-s3.yml'],
        s3rver: false,
        env: { S3_ENDPOINT: 'http://192.0.2.1:9000', S3_BUCKET: 'bs-no-such-bucket' },
      });
      const outside = await startTestS3({ address: await hostGateway() });
      try {
        // .env.example's placeholders, as a fresh .env has them.
        stack.env.S3_ACCESS_KEY_ID = 'your-access-key-id';
        stack.env.S3_SECRET_ACCESS_KEY = 'your-secret-access-key';
        const refused = await stack.compose(['run', '--rm', 'check']);
        assert.equal(refused.code, 3, refused.stderr);
        assert.match(refused.stderr, /S3_ACCESS_KEY_ID is the placeholder from \.env\.example/);
        assert.match(refused.stderr, /S3_SECRET_ACCESS_KEY is the placeholder from \.env\.example/);
        Object.assign(stack.env, outside.env('bs-no-such-bucket'));
        const missing = await stack.compose(['run', '--rm', 'bucket']);
        assert.equal(missing.code, 2, missing.stderr);
        assert.match(missing.stderr, /S3_BUCKET bs-no-such-bucket does not exist/);
        assert.match(missing.stderr, /S3_CREATE_BUCKET=true/);
      } finally {
        await stack.destroy();
        await outside.close();
      }
    });
  });
}

/** scripts/stack-down.sh: everything stopped, apps included, volumes kept. */
async function stackDown(stack: ComposeStack): Promise<void> {
  const down = await runStackScript(stack, 'scripts/stack-down.sh', ['-t', '5']);
  assert.equal(down.code, 0, down.stderr);
}

/** Waits until /shop/ answers exactly `body`. */
function servedExactly(stack: ComposeStack, body: string, what: string): Promise<number> {
  return eventually(
    what,
    async () => {
      const r = await get(stack, '/shop/');
      return r.status === 200 && r.body === body;
    },
    240_000,
  );
}

const SHOP_PACKAGE = JSON.stringify({
  name: 'shop',
  version: '1.0.0',
  scripts: { start: 'node server.js' },
});

/**
 * A user switching variants on one project: direct mount, then the rclone
 * read-only mount (with the sync), then direct again, all over the same
 * mount-cache volume. The direct mount dies with an edit still waiting for
 * its write-back; that edit must never overwrite the newer one the sync
 * uploads meanwhile, and no cached copy may ever be served for a newer object.
 */
export function variantSwitch(compose: ComposeVersion): void {
  describe(
    `stack (${compose.name}): switching variants over one mount cache`,
    { skip, timeout: 900_000 },
    () => {
      test('direct -> rclone -> direct: every edit served exactly, an unuploaded edit never comes back', async () => {
        // A long write-back: the edit below is certainly still waiting when the mount dies.
        const first = await ComposeStack.create('switch', {
          files: ['docker-compose.s3-direct.yml'],
          compose,
          // Objects another tool puts in the bucket show within seconds.
          env: { RCLONE_VFS_WRITE_BACK: '60s', RCLONE_DIR_CACHE_TIME: '5s' },
        });
        let last = first;
        const timings: Record<string, number> = {};
        try {
          await first.up();
          const mounted = join(first.mountRoot, 'workspaces');
          // The project as another tool put it in the bucket.
          const client = first.s3();
          for (const [key, body] of [
            ['shop/package.json', SHOP_PACKAGE],
            ['shop/server.js', selfServing(1, 200)],
          ] as const) {
            await client.send(new PutObjectCommand({ Bucket: 'workspaces', Key: key, Body: body }));
          }
          client.destroy();
          timings.direct = await servedExactly(first, selfServing(1, 200), 'direct: served');
          // An edit through the mount that waits for its write-back when the mount dies.
          await writeFile(join(mounted, 'shop', 'server.js'), selfServing(2, 400));
          await dockerCli(['kill', await first.containerOf('mount')]);
          await stackDown(first);

          // The read-only rclone mount and the sync, over the same volumes; the
          // local project is newer than anything in the bucket.
          await mkdir(join(first.workspacesDir, 'shop'), { recursive: true });
          await writeFile(join(first.workspacesDir, 'shop', 'package.json'), SHOP_PACKAGE);
          await writeFile(join(first.workspacesDir, 'shop', 'server.js'), selfServing(3, 20));
          const rclone = await first.withFiles(['docker-compose.rclone.yml']);
          last = rclone;
          await rclone.up();
          timings.rclone = await servedExactly(rclone, selfServing(3, 20), 'rclone: served');
          const logs = await rclone.compose(['logs', '--no-color', 'mount']);
          assert.match(logs.stdout, /never uploaded/, 'the unuploaded edit is reported');
          assert.match(logs.stdout, /workspaces\/shop\/server\.js/);
          await stressEdits(
            rclone,
            join(rclone.workspacesDir, 'shop', 'server.js'),
            STRESS_EDIT_MS,
            STRESS_PADS.slice(0, 6),
          );
          const latest = await readFile(join(rclone.workspacesDir, 'shop', 'server.js'), 'utf8');
          await stackDown(rclone);

          // Direct again: the set-aside edit stays set aside.
          const back = await first.withFiles(['docker-compose.s3-direct.yml']);
          last = back;
          await back.up();
          timings.back = await servedExactly(
            back,
            latest,
            'direct again: the newest version served',
          );
          await stressEdits(
            back,
            join(back.mountRoot, 'workspaces', 'shop', 'server.js'),
            STRESS_EDIT_MS,
            STRESS_PADS.slice(6, 12),
          );
        } finally {
          console.log(`${compose.name} variant switch timings (ms): ${JSON.stringify(timings)}`);
          if (process.env.BUCKETSPACE_TEST_KEEP_STACK !== 'true') await last.destroy();
        }
      });
    },
  );
}
