// End to end: the real Compose stack of this repository on this machine's
// Docker engine (Compose v1 or v2), images built locally, MinIO replaced by
// an s3rver container (test/e2e/docker-compose.s3rver.yml) and nothing else
// changed. A Node project, a Python project and a static site go in; the
// test watches them reach the bucket (filtered), the FUSE mount, three
// containers and the monitor's routes, then edits, deletes and kills the mount.
// Run just this file: npm run test:e2e
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { listKeys } from './support/bucket.ts';
import { ComposeStack, freePort, REPO } from './support/compose-stack.ts';
import { containersOf, dockerAvailable } from './support/docker.ts';
import { docker as dockerCli, inspect } from './support/docker-cli.ts';
import { buildTargets, ensureImages, IMAGE_NAMES } from './support/images.ts';
import { eventually } from './support/watch-process.ts';

const haveDocker = await dockerAvailable();
const skip = haveDocker ? false : 'needs a Docker engine';

/** What each project answers at GET /<workspace>/. */
const NODE_V1 = 'node:shop v1';
const NODE_V2 = 'node:shop v2';
const PYTHON = 'python:pyapp';
const STATIC = 'static:site';

const nodeServer = (reply: string) =>
  `require('node:http').createServer((req, res) => res.end(${JSON.stringify(`${reply}\n`)}))` +
  `.listen(Number(process.env.PORT), '0.0.0.0');\n`;

/** The three projects, written into `root` (a local dir or the direct mount). */
async function writeProjects(root: string, options: { withExcluded: boolean }): Promise<void> {
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
  await put('site/index.html', `<!doctype html><title>site</title><p>${STATIC}</p>\n`);
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

/**
 * scripts/setup-s3-mount.sh as a user runs it, on this stack: its settings in
 * an env file (kept: the script only fills in a missing one), the test's
 * Compose override as an extra file, and --migrate for the upload.
 */
async function runSetup(stack: ComposeStack, variantName: string): Promise<string> {
  const envFile = join(stack.dir, 'stack.env');
  await writeFile(
    envFile,
    Object.entries(stack.env)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(''),
    { mode: 0o600 },
  );
  const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(
      join(REPO, 'scripts/setup-s3-mount.sh'),
      [
        '--variant',
        variantName,
        '-f',
        join(REPO, 'test/e2e/docker-compose.s3rver.yml'),
        '--migrate',
      ],
      {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: process.env.HOME ?? '/root',
          BUCKETSPACE_ENV_FILE: envFile,
        },
        timeout: 600_000,
      },
      (err, _stdout, stderr) =>
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stderr }),
    );
  });
  assert.equal(code, 0, `setup-s3-mount.sh failed:\n${stderr}`);
  return stderr;
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

const EXCLUDED = /(^|\/)(node_modules|dist|coverage|__pycache__)\/|(^|\/)\.env|\.pyc$/;

interface Variant {
  name: string;
  files: string[];
  /** Direct mount: projects are written into the mount, there is no sync service. */
  direct: boolean;
  env?: Record<string, string>;
  https?: boolean;
  /** Started by scripts/setup-s3-mount.sh (with --migrate) instead of `compose up`. */
  viaSetupScript?: string;
}

/**
 * The smoke test of one variant: it goes up, serves the three projects,
 * follows an edit, survives the mount being killed, and drops a deleted project.
 */
function smoke(variant: Variant): void {
  describe(`stack: ${variant.name}`, { skip, timeout: 900_000 }, () => {
    let stack: ComposeStack;
    let setupOutput = '';
    const timings: Record<string, number> = {};

    before(async () => {
      stack = await ComposeStack.create(variant.name, variant.files, {
        // Deleting a project's directory removes it from the bucket (and so
        // its container); the default keeps the prefix as a safety rail.
        SYNC_DELETE_MISSING_WORKSPACES: 'true',
        ...variant.env,
      });
      if (!variant.direct) await writeProjects(stack.workspacesDir, { withExcluded: true });
      const t0 = Date.now();
      if (variant.viaSetupScript !== undefined) {
        setupOutput = await runSetup(stack, variant.viaSetupScript);
      } else {
        await stack.mustCompose(['up', '-d'], 600_000);
      }
      timings.up = Date.now() - t0;
    });

    after(async () => {
      if (stack === undefined) return;
      if (process.env.BUCKETSPACE_TEST_KEEP_STACK === 'true') {
        console.log(`kept stack ${stack.project} (${stack.dir})`);
        return;
      }
      await stack.destroy();
      console.log(`${variant.name} timings (ms): ${JSON.stringify(timings)}`);
    });

    test('every service is up; the mount and the monitor are healthy', async () => {
      for (const service of ['minio', 'mount', 'monitor']) {
        const id = await stack.containerOf(service);
        await eventually(
          `${service} healthy`,
          async () => (await inspect(id, '{{.State.Health.Status}}')) === 'healthy',
          120_000,
        );
      }
      const sync = await stack.compose(['ps', '-q', 'sync']);
      assert.equal(sync.stdout.trim() !== '', !variant.direct, 'sync runs unless direct mount');
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
      const nodePid = (await dockerCli(['exec', monitor, 'pidof', 'node'])).trim().split(' ')[0];
      const nodeStatus = await dockerCli(['exec', monitor, 'cat', `/proc/${nodePid}/status`]);
      assert.match(status, /^Uid:\s+0/m, 'tini starts as root');
      assert.match(nodeStatus, /^Uid:\s+10001\s/m);
      assert.match(nodeStatus, /^CapEff:\s+0+$/m);
    });

    if (variant.viaSetupScript !== undefined) {
      test('setup-s3-mount.sh started it, uploaded the workspaces and said where everything is', () => {
        assert.match(setupOutput, /ok +Compose v[12]/);
        assert.match(setupOutput, /exists \(kept as it is\)/);
        assert.match(setupOutput, /is on a shared mount/);
        assert.match(setupOutput, /ok +the stack is up/);
        assert.match(setupOutput, /ok +uploaded 3 workspaces/);
        assert.match(
          setupOutput,
          new RegExp(`Dashboard: +http://127\\.0\\.0\\.1:${stack.env.MONITOR_PORT}/monitor`),
        );
      });
    }

    if (variant.direct) {
      test('projects written into the mount reach the bucket; excluded objects stay hidden', async () => {
        const mounted = join(stack.mountRoot, 'workspaces');
        await writeProjects(mounted, { withExcluded: false });
        const client = stack.s3();
        await eventually(
          'the projects in the bucket',
          async () => {
            const keys = await listKeys(client, 'workspaces');
            return ['shop/server.js', 'pyapp/app.py', 'site/index.html'].every((k) =>
              keys.includes(k),
            );
          },
          60_000,
        );
        // Objects the mount's filter excludes (put there by another tool)
        // are never shown to the monitor or the containers.
        for (const key of ['shop/node_modules/x/index.js', 'shop/.env', 'shop/dist/app.js']) {
          await client.send(
            new PutObjectCommand({ Bucket: 'workspaces', Key: key, Body: 'hidden' }),
          );
        }
        await new Promise((r) => setTimeout(r, 6000)); // past rclone's directory cache
        const shown = await readdir(join(mounted, 'shop'));
        assert.deepEqual(shown.sort(), ['package.json', 'server.js']);
      });
    } else {
      test('the bucket holds the sources and none of node_modules, .env, build output', async () => {
        const client = stack.s3();
        let keys: string[] = [];
        timings.bucket = await eventually(
          'the projects in the bucket',
          async () => {
            keys = await listKeys(client, 'workspaces');
            return ['shop/server.js', 'pyapp/app.py', 'site/index.html'].every((k) =>
              keys.includes(k),
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
      const api = await fetch(stack.url('/api/workspaces'), {
        headers: { authorization: `Bearer ${stack.env.MONITOR_TOKEN}` },
      });
      assert.equal(api.status, 200);
      const { workspaces } = (await api.json()) as {
        workspaces: Array<{ name: string; state: string; detection?: { type?: string } }>;
      };
      const byName = Object.fromEntries(workspaces.map((w) => [w.name, w]));
      assert.equal(byName.shop?.state, 'running');
      assert.equal(byName.pyapp?.state, 'running');
      assert.equal(byName.site?.state, 'running');
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

    test('killing the mount container removes no app container, and the mount recovers', async () => {
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

    if (variant.https) {
      test('Caddy serves the monitor over HTTPS for DOMAIN', async () => {
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
        let body = '';
        await eventually(
          'GET https://DOMAIN/shop/ through Caddy',
          () =>
            new Promise<boolean>((resolve) => {
              const req = httpsRequest(
                {
                  host: '127.0.0.1',
                  port: Number(stack.env.HTTPS_PORT),
                  path: '/shop/',
                  servername: domain,
                  headers: { host: domain },
                  ca,
                  timeout: 5000,
                },
                (res) => {
                  body = '';
                  res.setEncoding('utf8');
                  res.on('data', (c: string) => (body += c));
                  res.on('end', () => resolve(res.statusCode === 200 && body.includes(NODE_V2)));
                },
              );
              req.on('error', () => resolve(false));
              req.end();
            }),
          60_000,
        );
        assert.match(body, /node:shop v2/);
      });
    }

    test('deleting a project removes its container and its route', async () => {
      const root = variant.direct ? join(stack.mountRoot, 'workspaces') : stack.workspacesDir;
      await rm(join(root, 'site'), { recursive: true, force: true });
      timings.delete = await eventually(
        'the deleted project gone',
        async () =>
          !(await appContainers(stack)).has('site') && (await get(stack, '/site/')).status === 404,
        120_000,
      );
      assert.ok(await answers(stack, '/shop/', NODE_V2), 'the others keep serving');
      assert.ok(await answers(stack, '/pyapp/', PYTHON));
    });
  });
}

before(async () => {
  if (!haveDocker) return;
  await ensureImages([...IMAGE_NAMES]);
  // The S3 server's container (node) and the HTTPS front (Caddy) of the test.
  await buildTargets(['base-node', 'base-caddy']);
});

describe('stack: the credentials check', { skip, timeout: 300_000 }, () => {
  test("MinIO's default credentials stop the stack before MinIO starts, saying how to fix it", async () => {
    const stack = await ComposeStack.create('check', []);
    try {
      delete stack.env.MINIO_ROOT_USER;
      delete stack.env.MINIO_ROOT_PASSWORD;
      const refused = await stack.compose(['up', '--no-build', 'minio'], { timeoutMs: 120_000 });
      assert.notEqual(refused.code, 0);
      const logs = await stack.compose(['logs', '--no-color', 'check']);
      assert.match(logs.stdout, /MinIO's default credentials/);
      assert.match(logs.stdout, /scripts\/setup-s3-mount\.sh/);
      assert.match(logs.stdout, /BUCKETSPACE_LOCAL_ONLY=true/);
      const minio = await stack.compose(['ps', '-q', 'minio']);
      assert.equal(minio.stdout.trim(), '', 'MinIO was never created');
      const check = await stack.containerOf('check');
      assert.equal(await inspect(check, '{{.State.ExitCode}}'), '3');

      // Saying it is local-only lets it through, with everything on loopback.
      stack.env.BUCKETSPACE_LOCAL_ONLY = 'true';
      const local = await stack.compose(['run', '--rm', 'check']);
      assert.equal(local.code, 0, local.stderr);
      stack.env.MONITOR_BIND = '0.0.0.0';
      const exposed = await stack.compose(['run', '--rm', 'check']);
      assert.equal(exposed.code, 3);
      assert.match(exposed.stdout + exposed.stderr, /MONITOR_BIND=0\.0\.0\.0/);
    } finally {
      await stack.destroy();
    }
  });
});

smoke({
  name: 'rclone',
  files: ['docker-compose.rclone.yml'],
  direct: false,
  https: true,
  env: {
    COMPOSE_PROFILES: 'https',
    DOMAIN: 'bucketspace.localhost',
    CADDY_IMAGE: 'bucketspace-local/caddy:2',
    HTTP_BIND: '127.0.0.1',
    HTTP_PORT: String(await freePort()),
    HTTPS_PORT: String(await freePort()),
    MONITOR_TRUST_PROXY: 'true',
  },
});
smoke({
  name: 's3fs',
  files: ['docker-compose.s3fs.yml'],
  direct: false,
  viaSetupScript: 's3fs',
});
smoke({ name: 'direct', files: ['docker-compose.s3-direct.yml'], direct: true });
