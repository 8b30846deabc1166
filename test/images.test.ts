// Integration tests of the bucketspace images against the real Docker engine:
// the runtime contract of images/README.md under the monitor's restrictions
// (no capabilities, no-new-privileges, the image's non-root user, /workspace
// read-only), the extra-CA setting, the mount images against the test S3
// server, and the control plane. Missing images are built first, with no
// registry (scripts/build-local-images.sh). Containers and the network are
// testcontainers' (local images only, no reaper: test/support/local-container.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Network, Wait, type StartedNetwork, type StartedTestContainer } from 'testcontainers';
import { ensureImages, IMAGE_NAMES, imageRef } from './support/images.ts';
import { docker, removeContainers } from './support/docker.ts';
import { LocalContainer, printed } from './support/local-container.ts';
import { GO_MAIN, GO_MOD, NODE_SERVER, PYTHON_APP } from './support/image-apps.ts';
import { startRecordingHttpsServer } from './support/recording-https-server.ts';
import { startTestS3, type TestS3 } from './support/s3-server.ts';
import { listKeys, testClient } from './support/bucket.ts';

const ID = randomBytes(4).toString('hex');
const NETWORK = `bs-images-${ID}`;
const LABEL_KEY = 'bucketspace.test';
const LABEL = `${LABEL_KEY}=images-${ID}`;
const BUILD_TIMEOUT = 45 * 60_000;
/** Installs (pip, go mod download) on a loaded machine. */
const STARTUP_TIMEOUT = 120_000;

/** How many lines of `text` are exactly `line`. */
function linesOf(text: string, line: string): number {
  return text.split('\n').filter((l) => l === line).length;
}

let root = '';
let gateway = '';
let counter = 0;
let network: StartedNetwork | undefined;

before(
  async () => {
    await ensureImages([...IMAGE_NAMES]);
    root = await mkdtemp(join(tmpdir(), 'bucketspace-images-'));
    network = await new Network({ nextUuid: () => NETWORK }).start();
    const { IPAM } = await docker.getNetwork(network.getId()).inspect();
    gateway = IPAM?.Config?.[0]?.Gateway ?? '';
    if (!gateway) throw new Error(`network ${NETWORK} has no gateway address`);
  },
  { timeout: BUILD_TIMEOUT },
);

after(async () => {
  await removeContainers(LABEL);
  await network?.stop().catch(() => {});
  if (root) await rm(root, { recursive: true, force: true });
});

/** A workspace directory as the monitor sees it: files 0644, directories 0755 (root-owned here). */
async function workspace(files: Record<string, string>): Promise<string> {
  const dir = join(root, `ws-${++counter}`);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  for (const [rel, content] of Object.entries(files)) {
    const abs = join(dir, rel);
    await mkdir(dirname(abs), { recursive: true, mode: 0o755 });
    await writeFile(abs, content);
    await chmod(abs, 0o644);
  }
  return dir;
}

/** One of our containers, on the test network, labelled for cleanup. */
function container(image: string): LocalContainer {
  if (!network) throw new Error('the test network is not started');
  return new LocalContainer(imageRef(image))
    .withName(`bs-images-${ID}-${++counter}`)
    .withLabels({ [LABEL_KEY]: `images-${ID}` })
    .withNetwork(network)
    .withStartupTimeout(STARTUP_TIMEOUT);
}

interface RunOptions {
  image: string;
  /** Mounted read-only at /workspace. */
  dir: string;
  env?: Record<string, string>;
  /** Files mounted read-only: host path -> container path. */
  files?: Record<string, string>;
  command?: string[];
}

/** A container as the monitor makes one: restricted, on the test network, no published ports. */
function restricted(options: RunOptions): LocalContainer {
  const files = Object.entries(options.files ?? {}).map(([source, target]) => ({
    source,
    target,
    mode: 'ro' as const,
  }));
  const c = container(options.image)
    .withDroppedCapabilities('ALL')
    .withSecurityOpt('no-new-privileges')
    .withBindMounts([{ source: options.dir, target: '/workspace', mode: 'ro' }, ...files])
    .withEnvironment(options.env ?? {});
  return options.command ? c.withCommand(options.command) : c;
}

/**
 * Start an app on PORT and wait until it listens there (checked inside the
 * container: nothing is published); its URL on the test network.
 */
async function serve(
  options: RunOptions,
  port: number,
): Promise<{ app: StartedTestContainer; url: string }> {
  const app = await restricted({ ...options, env: { ...options.env, PORT: String(port) } })
    .withWaitStrategy(Wait.forSuccessfulCommand(`bash -c '</dev/tcp/127.0.0.1/${port}'`))
    .start();
  return { app, url: `http://${app.getIpAddress(NETWORK)}:${port}` };
}

/** Start a container that runs to its end (no ports, no health check: started is ready). */
function run(options: RunOptions): Promise<StartedTestContainer> {
  return restricted(options).start();
}

/** Wait until the container exits; its exit code. */
async function exitCode(c: StartedTestContainer): Promise<number> {
  const { StatusCode } = (await docker.getContainer(c.getId()).wait()) as { StatusCode: number };
  return StatusCode;
}

async function inspect(c: StartedTestContainer) {
  return docker.getContainer(c.getId()).inspect();
}

/** GET a URL; rejects unless the server answered. */
async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

/** `docker stop -t 10` (kept for its logs): the exit code tells a graceful stop from a kill after 10 s (137). */
async function stop(c: StartedTestContainer): Promise<{ exitCode: number; seconds: number }> {
  const started = performance.now();
  await c.stop({ timeout: 10_000, remove: false });
  const seconds = (performance.now() - started) / 1000;
  return { exitCode: (await inspect(c)).State.ExitCode, seconds };
}

const SIGKILLED = 137;

const NODE_FILES = {
  'server.js': NODE_SERVER,
  'package.json': JSON.stringify({ name: 'app', scripts: { start: 'node server.js' } }),
  'sub/dir/deep.txt': 'deep file',
  '.hidden': 'dotfile',
};

describe('runtime images under the monitor restrictions', () => {
  test('node: /workspace copied to a writable /app, `npm start` answers on PORT as uid 10001 with no capabilities; SIGTERM reaches the app through npm, which waits for its shutdown (npm ran it with `sh -c`, which died first and took the app down)', async (t) => {
    const dir = await workspace(NODE_FILES);
    await symlink('sub/dir/deep.txt', join(dir, 'link.txt'));
    const { app, url } = await serve({ image: 'runtime-node', dir }, 3000);
    const res = await httpGet(url);
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), {
      uid: 10001,
      gid: 10001,
      cwd: '/app',
      capEff: '0000000000000000',
      noNewPrivs: '1',
      workspaceWritable: false,
      appWritable: true,
      homeWritable: true,
      deep: 'deep file',
      dotfile: true,
      linkIsSymlink: true,
    });
    const { exitCode, seconds } = await stop(app);
    t.diagnostic(`docker stop of the node app took ${seconds.toFixed(2)} s`);
    const logs = await printed(app);
    assert.notEqual(exitCode, SIGKILLED, 'the app did not stop on SIGTERM and was killed');
    assert.match(logs, /^bucketspace: copying \/workspace to \/app$/m);
    assert.match(
      logs,
      /^bucketspace: nothing to install \(no package-lock.json and no dependencies in package.json\)$/m,
    );
    assert.match(logs, /^bucketspace: starting: npm start$/m);
    // Regression: tini -g sent SIGTERM to the whole process group and npm
    // forwarded its own to the app, so the app got two (an app that force-quits
    // on a second signal never shut down gracefully).
    assert.equal(linesOf(logs, 'got SIGTERM'), 1, 'the app got SIGTERM exactly once');
    // Regression: npm ran the script with `sh -c`, which died on SIGTERM at
    // once; npm exited (143) and the container took the app down mid-shutdown.
    assert.match(logs, /^shut down$/m, 'the app was killed before it had shut down');
    assert.equal(exitCode, 0, "the container's exit code is the app's, through npm");
  });

  test('node: `npm ci` when package-lock.json exists', async () => {
    const dir = await workspace({
      ...NODE_FILES,
      'package.json': JSON.stringify({ name: 'locked', version: '1.0.0' }),
      'package-lock.json': JSON.stringify({
        name: 'locked',
        version: '1.0.0',
        lockfileVersion: 3,
        requires: true,
        packages: { '': { name: 'locked', version: '1.0.0' } },
      }),
    });
    await symlink('sub/dir/deep.txt', join(dir, 'link.txt'));
    const { app, url } = await serve(
      { image: 'runtime-node', dir, env: { BUCKETSPACE_START: 'node server.js' } },
      3001,
    );
    assert.equal((await httpGet(url)).status, 200);
    await stop(app);
    const logs = await printed(app);
    assert.match(logs, /^bucketspace: installing: npm ci$/m);
    assert.match(logs, /^bucketspace: starting: node server.js$/m);
  });

  test('node: BUCKETSPACE_INSTALL set to empty installs nothing, even with a lockfile', async () => {
    const dir = await workspace({ 'package.json': '{}', 'package-lock.json': 'not even json' });
    const app = await run({
      image: 'runtime-node',
      dir,
      env: { BUCKETSPACE_INSTALL: '', BUCKETSPACE_START: 'echo started' },
    });
    assert.equal(await exitCode(app), 0);
    const logs = await printed(app);
    assert.match(logs, /^bucketspace: nothing to install \(BUCKETSPACE_INSTALL is empty\)$/m);
    assert.match(logs, /^started$/m);
  });

  test('a failing install exits with code 66 and says which command failed; the app is not started', async () => {
    const nodeDir = await workspace(NODE_FILES);
    const pythonDir = await workspace({
      'app.py': PYTHON_APP,
      'requirements.txt': './does-not-exist\n',
    });
    const node = await run({
      image: 'runtime-node',
      dir: nodeDir,
      env: { BUCKETSPACE_INSTALL: 'npm ci' }, // no lockfile: npm refuses
    });
    const python = await run({ image: 'runtime-python', dir: pythonDir });
    assert.equal(await exitCode(node), 66);
    assert.equal(await exitCode(python), 66);
    const nodeLogs = await printed(node);
    assert.match(nodeLogs, /^bucketspace: error: install failed with exit code \d+: npm ci$/m);
    assert.doesNotMatch(nodeLogs, /bucketspace: starting/);
    const pythonLogs = await printed(python);
    assert.match(
      pythonLogs,
      /^bucketspace: error: install failed with exit code \d+: pip install -r requirements.txt$/m,
    );
    assert.doesNotMatch(pythonLogs, /bucketspace: starting/);
  });

  test('python: requirements.txt installed into /app/.venv, `python app.py` answers on PORT; SIGTERM stops it with its own exit code', async (t) => {
    const dir = await workspace({ 'app.py': PYTHON_APP, 'requirements.txt': '# nothing yet\n' });
    const { app, url } = await serve(
      { image: 'runtime-python', dir, env: { BUCKETSPACE_START: 'python app.py' } },
      8000,
    );
    const res = await httpGet(url);
    assert.deepEqual(JSON.parse(res.body), {
      uid: 10001,
      cwd: '/app',
      executable: '/app/.venv/bin/python',
    });
    const { exitCode, seconds } = await stop(app);
    t.diagnostic(`docker stop of the python app took ${seconds.toFixed(2)} s`);
    assert.equal(exitCode, 0);
    const logs = await printed(app);
    assert.match(
      logs,
      /^bucketspace: creating a virtual environment: python3 -m venv \/app\/.venv$/m,
    );
    assert.match(logs, /^bucketspace: installing: pip install -r requirements.txt$/m);
    assert.equal(linesOf(logs, 'got SIGTERM'), 1, 'the app got SIGTERM exactly once');
    assert.match(logs, /^shut down$/m);
  });

  test('go: `go mod download`, the default start builds and execs the program, which answers on PORT; SIGTERM reaches it and it shuts down in its own time (`go run .` died first and took it down)', async (t) => {
    const dir = await workspace({ 'main.go': GO_MAIN, 'go.mod': GO_MOD });
    const { app, url } = await serve({ image: 'runtime-go', dir }, 8080);
    const res = await httpGet(url);
    assert.equal(res.body, 'go as uid 10001');
    const { exitCode, seconds } = await stop(app);
    t.diagnostic(`docker stop of the go app took ${seconds.toFixed(2)} s`);
    assert.notEqual(exitCode, SIGKILLED);
    const logs = await printed(app);
    assert.match(logs, /^bucketspace: installing: go mod download$/m);
    assert.match(
      logs,
      /^bucketspace: starting: go build -o \/tmp\/bucketspace-app \. && exec \/tmp\/bucketspace-app$/m,
    );
    assert.equal(linesOf(logs, 'got SIGTERM'), 1, 'the program got SIGTERM exactly once');
    // Regression: `go run .` stayed the program's parent and died on SIGTERM
    // at once, taking the program down mid-shutdown (exit code 143).
    assert.match(logs, /^shut down$/m, 'the program was killed before it had shut down');
    assert.equal(exitCode, 0);
  });

  test('static: nginx as uid 10001 serves /app on PORT; hidden files and workspace.json are not served', async (t) => {
    const dir = await workspace({
      'index.html': '<h1>home</h1>',
      'docs/index.html': '<h1>docs</h1>',
      '.env': 'SECRET=x',
      'workspace.json': '{"env":{"SECRET":"x"}}',
    });
    const { app, url } = await serve({ image: 'runtime-static', dir }, 8081);
    assert.deepEqual(await httpGet(`${url}/`), { status: 200, body: '<h1>home</h1>' });
    assert.equal((await httpGet(`${url}/docs/`)).body, '<h1>docs</h1>');
    assert.equal((await httpGet(`${url}/.env`)).status, 404);
    assert.equal((await httpGet(`${url}/workspace.json`)).status, 404);
    const top = (await docker.getContainer(app.getId()).top({ ps_args: '-o pid,uid' })) as {
      Processes: string[][];
    };
    const uids = top.Processes.map((row) => row[1]);
    assert.ok(uids.length >= 3, 'tini, the nginx master and a worker');
    assert.deepEqual(new Set(uids), new Set(['10001']));
    const { exitCode, seconds } = await stop(app);
    t.diagnostic(`docker stop of the static site took ${seconds.toFixed(2)} s`);
    assert.equal(exitCode, 0);
    assert.match(await printed(app), /^bucketspace: starting: nginx serving \/app on port 8081$/m);
  });

  test('static: serves /app/public when only it has an index.html', async () => {
    const dir = await workspace({ 'public/index.html': 'public site', 'README.md': 'readme' });
    const { url } = await serve({ image: 'runtime-static', dir }, 8082);
    assert.deepEqual(await httpGet(`${url}/`), { status: 200, body: 'public site' });
    assert.equal((await httpGet(`${url}/README.md`)).status, 404);
  });
});

describe('extra CA certificates (/etc/bucketspace/ca.pem)', () => {
  test('Node, npm, Python, pip and Go trust a registry whose certificate is signed by the mounted CA, and only with it', async () => {
    const server = await startRecordingHttpsServer(gateway);
    try {
      const ca = { [server.caFile]: '/etc/bucketspace/ca.pem' };
      const empty = await workspace({ 'README.md': 'nothing' });
      const nodeGet = (path: string) =>
        `node -e "require('https').get('${server.url}${path}', {headers: {'user-agent': 'node-https'}}, (r) => console.log('status', r.statusCode)).on('error', (e) => { console.log('tls error', e.code); process.exitCode = 1; })"`;
      const withoutCa = await run({
        image: 'runtime-node',
        dir: empty,
        env: { BUCKETSPACE_INSTALL: '', BUCKETSPACE_START: nodeGet('/node-without-ca') },
      });
      const node = await run({
        image: 'runtime-node',
        dir: empty,
        files: ca,
        env: {
          BUCKETSPACE_INSTALL: '',
          BUCKETSPACE_START: `${nodeGet('/node')} && npm ping --registry ${server.url}/`,
        },
      });
      const python = await run({
        image: 'runtime-python',
        dir: await workspace({ 'requirements.txt': 'bucketspace-test-package\n' }),
        files: ca,
        env: { PIP_INDEX_URL: `${server.url}/simple/` },
      });
      const pythonUrllib = await run({
        image: 'runtime-python',
        dir: empty,
        files: ca,
        env: {
          BUCKETSPACE_START: `python -c "import urllib.request; urllib.request.urlopen('${server.url}/ping-python')"`,
        },
      });
      const go = await run({
        image: 'runtime-go',
        dir: await workspace({
          'go.mod': `${GO_MOD}\nrequire example.com/bucketspace-test v1.0.0\n`,
          'main.go': 'package main\n\nfunc main() {}\n',
        }),
        files: ca,
        env: { GOPROXY: `${server.url}/goproxy`, GOSUMDB: 'off' },
      });

      assert.equal(await exitCode(withoutCa), 1, await printed(withoutCa));
      assert.equal(await exitCode(node), 0, await printed(node));
      assert.equal(await exitCode(pythonUrllib), 0, await printed(pythonUrllib));
      // pip and go reach the server (which has no packages): their installs fail after the TLS handshake.
      assert.equal(await exitCode(python), 66, await printed(python));
      assert.equal(await exitCode(go), 66, await printed(go));
      assert.match(
        await printed(node),
        /^bucketspace: trusting the extra CA certificates in \/etc\/bucketspace\/ca.pem/m,
      );

      const seen = (path: string, agent: RegExp) =>
        server.requests.some((r) => r.path.startsWith(path) && agent.test(r.userAgent));
      assert.ok(!seen('/node-without-ca', /./), 'without the CA, the TLS handshake must fail');
      assert.ok(seen('/node', /^node-https$/), 'node https');
      assert.ok(seen('/-/ping', /^npm\//), 'npm');
      assert.ok(seen('/ping-python', /^Python-urllib/), 'python ssl (SSL_CERT_FILE)');
      assert.ok(seen('/simple/bucketspace-test-package', /^pip\//), 'pip (PIP_CERT)');
      assert.ok(
        seen('/goproxy/example.com/', /^Go-http-client/),
        'go mod download (SSL_CERT_FILE)',
      );
    } finally {
      await server.close();
    }
  });
});

describe('mount images and the control plane against the test S3 server', () => {
  let s3: TestS3 | undefined;
  let client: S3Client | undefined;
  const bucket = `bs-images-${ID}`;
  const started = () => {
    if (!s3 || !client) throw new Error('the test S3 server is not started');
    return { s3, client };
  };

  before(async () => {
    // Containers reach the host through the network's gateway address.
    s3 = await startTestS3({ address: gateway });
    client = testClient(s3);
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    for (const [key, body] of Object.entries({
      'shop/index.html': 'hello from the bucket',
      'shop/src/app.js': 'console.log(1)\n',
    })) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    }
  });

  after(async () => {
    client?.destroy();
    await s3?.close();
  });

  for (const image of ['mount-rclone', 'mount-s3fs']) {
    test(`${image}: mounts the bucket with SYS_ADMIN and /dev/fuse (not --privileged); the files are visible; healthy; stops on SIGTERM`, async () => {
      const { s3: server } = started();
      // The least privilege a FUSE mount needs (ENVIRONMENT.md): --privileged fails here anyway.
      const mount = await container(image)
        .withAddedCapabilities('SYS_ADMIN')
        .withDevices('/dev/fuse')
        .withSecurityOpt('apparmor:unconfined')
        .withEnvironment({
          S3_ENDPOINT: server.endpoint,
          S3_REGION: server.region,
          S3_ACCESS_KEY_ID: server.accessKeyId,
          S3_SECRET_ACCESS_KEY: server.secretAccessKey,
          S3_BUCKET: bucket,
        })
        .withWaitStrategy(Wait.forHealthCheck())
        .start();
      const read = async (path: string) => {
        const { exitCode, stdout, stderr } = await mount.exec(['cat', `/mnt/workspaces/${path}`]);
        assert.equal(exitCode, 0, `cat ${path}: ${stderr}`);
        return stdout;
      };
      assert.equal(await read('shop/index.html'), 'hello from the bucket');
      assert.equal(await read('shop/src/app.js'), 'console.log(1)\n');
      // readable by the runtime containers' user too
      const mode = await mount.exec(['stat', '-c', '%a', '/mnt/workspaces/shop/index.html']);
      assert.equal(mode.exitCode, 0, mode.stderr);
      assert.equal(
        Number.parseInt(mode.stdout.trim(), 8) & 0o004,
        0o004,
        `mode ${mode.stdout.trim()}`,
      );
      const { State, HostConfig } = await inspect(mount);
      assert.equal(State.Health?.Status, 'healthy');
      assert.equal(HostConfig.Privileged, false);
      const { exitCode } = await stop(mount);
      assert.notEqual(exitCode, SIGKILLED, await printed(mount));
    });
  }

  test('control-plane: `sync` uploads a workspace to the bucket as a non-root user, with no capabilities', async () => {
    const { s3: server, client: c } = started();
    const dir = await workspace({
      'site/index.html': 'synced',
      'site/node_modules/dep/index.js': 'never uploaded',
    });
    const target = `bs-images-cp-${ID}`;
    const sync = await run({
      image: 'control-plane',
      dir,
      env: {
        ...server.env(target),
        WORKSPACES_DIR: '/workspace',
        LOG_LEVEL: 'info',
      },
      command: ['sync'],
    });
    assert.equal(await exitCode(sync), 0, await printed(sync));
    assert.deepEqual(await listKeys(c, target), ['site/index.html']);
    assert.equal((await inspect(sync)).Config.User, '10001:10001');
  });
});
