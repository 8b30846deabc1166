// Integration tests of the bucketspace images against the real Docker engine:
// the runtime contract of images/README.md under the monitor's restrictions
// (no capabilities, no-new-privileges, the image's non-root user, /workspace
// read-only), the extra-CA setting, the mount images against the test S3
// server, and the control plane. Missing images are built first, with no
// registry (scripts/build-local-images.sh).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ensureImages, IMAGE_NAMES, imageRef } from './support/images.ts';
import {
  containerIp,
  containerLogs,
  docker,
  httpGet,
  inspect,
  waitExit,
  waitFor,
} from './support/docker-cli.ts';
import { GO_MAIN, GO_MOD, NODE_SERVER, PYTHON_APP } from './support/image-apps.ts';
import { startRecordingHttpsServer } from './support/recording-https-server.ts';
import { startTestS3, type TestS3 } from './support/s3-server.ts';
import { listKeys, testClient } from './support/bucket.ts';

const ID = randomBytes(4).toString('hex');
const NETWORK = `bs-images-${ID}`;
const LABEL = `bucketspace.test=images-${ID}`;
const BUILD_TIMEOUT = 45 * 60_000;

let root = '';
let gateway = '';
let counter = 0;
const containers: string[] = [];

before(
  async () => {
    await ensureImages([...IMAGE_NAMES]);
    root = await mkdtemp(join(tmpdir(), 'bucketspace-images-'));
    await docker(['network', 'create', '--label', LABEL, NETWORK]);
    gateway = (
      await docker([
        'network',
        'inspect',
        '--format',
        '{{(index .IPAM.Config 0).Gateway}}',
        NETWORK,
      ])
    ).trim();
  },
  { timeout: BUILD_TIMEOUT },
);

after(async () => {
  if (containers.length > 0) await docker(['rm', '--force', ...containers]).catch(() => {});
  await docker(['network', 'rm', NETWORK]).catch(() => {});
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

interface RunOptions {
  image: string;
  /** Mounted read-only at /workspace. */
  dir: string;
  env?: Record<string, string>;
  /** More `docker run` flags. */
  flags?: string[];
  command?: string[];
}

/** Start a container the way the monitor does: restricted, on the test network, no published ports. */
async function run(options: RunOptions): Promise<string> {
  const name = `bs-images-${ID}-${++counter}`;
  containers.push(name);
  const env = Object.entries(options.env ?? {}).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
  await docker([
    'run', '--detach', '--name', name, '--label', LABEL, '--network', NETWORK,
    '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
    '--mount', `type=bind,source=${options.dir},target=/workspace,readonly`,
    ...env, ...(options.flags ?? []), imageRef(options.image), ...(options.command ?? []),
  ]); // prettier-ignore
  return name;
}

async function answer(name: string, port: number, path = '/') {
  const ip = await containerIp(name, NETWORK);
  return waitFor(name, () => httpGet(`http://${ip}:${port}${path}`));
}

/** `docker stop -t 10`: the exit code tells a graceful stop from a kill after 10 s (137). */
async function stop(name: string): Promise<{ exitCode: number; seconds: number }> {
  const started = performance.now();
  await docker(['stop', '--time', '10', name]);
  const seconds = (performance.now() - started) / 1000;
  return { exitCode: Number(await inspect(name, '{{.State.ExitCode}}')), seconds };
}

const SIGKILLED = 137;

const NODE_FILES = {
  'server.js': NODE_SERVER,
  'package.json': JSON.stringify({ name: 'app', scripts: { start: 'node server.js' } }),
  'sub/dir/deep.txt': 'deep file',
  '.hidden': 'dotfile',
};

describe('runtime images under the monitor restrictions', () => {
  test('node: /workspace copied to a writable /app, `npm start` answers on PORT as uid 10001 with no capabilities; SIGTERM reaches the app through npm', async (t) => {
    const dir = await workspace(NODE_FILES);
    await symlink('sub/dir/deep.txt', join(dir, 'link.txt'));
    const name = await run({ image: 'runtime-node', dir, env: { PORT: '3000' } });
    const res = await answer(name, 3000);
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
    const { exitCode, seconds } = await stop(name);
    t.diagnostic(`docker stop of the node app took ${seconds.toFixed(2)} s`);
    assert.notEqual(exitCode, SIGKILLED, 'the app did not stop on SIGTERM and was killed');
    const logs = await containerLogs(name);
    assert.match(logs, /^bucketspace: copying \/workspace to \/app$/m);
    assert.match(
      logs,
      /^bucketspace: nothing to install \(no package-lock.json and no dependencies in package.json\)$/m,
    );
    assert.match(logs, /^bucketspace: starting: npm start$/m);
    assert.match(logs, /^got SIGTERM$/m);
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
    const name = await run({
      image: 'runtime-node',
      dir,
      env: { PORT: '3001', BUCKETSPACE_START: 'node server.js' },
    });
    assert.equal((await answer(name, 3001)).status, 200);
    const logs = await containerLogs(name);
    assert.match(logs, /^bucketspace: installing: npm ci$/m);
    assert.match(logs, /^bucketspace: starting: node server.js$/m);
  });

  test('node: BUCKETSPACE_INSTALL set to empty installs nothing, even with a lockfile', async () => {
    const dir = await workspace({ 'package.json': '{}', 'package-lock.json': 'not even json' });
    const name = await run({
      image: 'runtime-node',
      dir,
      env: { BUCKETSPACE_INSTALL: '', BUCKETSPACE_START: 'echo started' },
    });
    assert.equal(await waitExit(name), 0);
    const logs = await containerLogs(name);
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
    assert.equal(await waitExit(node), 66);
    assert.equal(await waitExit(python), 66);
    const nodeLogs = await containerLogs(node);
    assert.match(nodeLogs, /^bucketspace: error: install failed with exit code \d+: npm ci$/m);
    assert.doesNotMatch(nodeLogs, /bucketspace: starting/);
    const pythonLogs = await containerLogs(python);
    assert.match(
      pythonLogs,
      /^bucketspace: error: install failed with exit code \d+: pip install -r requirements.txt$/m,
    );
    assert.doesNotMatch(pythonLogs, /bucketspace: starting/);
  });

  test('python: requirements.txt installed into /app/.venv, `python app.py` answers on PORT; SIGTERM stops it with its own exit code', async (t) => {
    const dir = await workspace({ 'app.py': PYTHON_APP, 'requirements.txt': '# nothing yet\n' });
    const name = await run({
      image: 'runtime-python',
      dir,
      env: { PORT: '8000', BUCKETSPACE_START: 'python app.py' },
    });
    const res = await answer(name, 8000);
    assert.deepEqual(JSON.parse(res.body), {
      uid: 10001,
      cwd: '/app',
      executable: '/app/.venv/bin/python',
    });
    const { exitCode, seconds } = await stop(name);
    t.diagnostic(`docker stop of the python app took ${seconds.toFixed(2)} s`);
    assert.equal(exitCode, 0);
    const logs = await containerLogs(name);
    assert.match(
      logs,
      /^bucketspace: creating a virtual environment: python3 -m venv \/app\/.venv$/m,
    );
    assert.match(logs, /^bucketspace: installing: pip install -r requirements.txt$/m);
    assert.match(logs, /^got SIGTERM$/m);
  });

  test('go: `go mod download`, `go run .` answers on PORT; SIGTERM reaches the program', async (t) => {
    const dir = await workspace({ 'main.go': GO_MAIN, 'go.mod': GO_MOD });
    const name = await run({ image: 'runtime-go', dir, env: { PORT: '8080' } });
    const res = await answer(name, 8080);
    assert.equal(res.body, 'go as uid 10001');
    const { exitCode, seconds } = await stop(name);
    t.diagnostic(`docker stop of the go app took ${seconds.toFixed(2)} s`);
    assert.notEqual(exitCode, SIGKILLED);
    const logs = await containerLogs(name);
    assert.match(logs, /^bucketspace: installing: go mod download$/m);
    assert.match(logs, /^bucketspace: starting: go run .$/m);
    assert.match(logs, /^got SIGTERM$/m);
  });

  test('static: nginx as uid 10001 serves /app on PORT; hidden files and workspace.json are not served', async (t) => {
    const dir = await workspace({
      'index.html': '<h1>home</h1>',
      'docs/index.html': '<h1>docs</h1>',
      '.env': 'SECRET=x',
      'workspace.json': '{"env":{"SECRET":"x"}}',
    });
    const name = await run({ image: 'runtime-static', dir, env: { PORT: '8081' } });
    assert.deepEqual(await answer(name, 8081), { status: 200, body: '<h1>home</h1>' });
    const ip = await containerIp(name, NETWORK);
    assert.equal((await httpGet(`http://${ip}:8081/docs/`)).body, '<h1>docs</h1>');
    assert.equal((await httpGet(`http://${ip}:8081/.env`)).status, 404);
    assert.equal((await httpGet(`http://${ip}:8081/workspace.json`)).status, 404);
    const uids = (await docker(['top', name, '-o', 'pid,uid']))
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/)[1]);
    assert.ok(uids.length >= 3, 'tini, the nginx master and a worker');
    assert.deepEqual(new Set(uids), new Set(['10001']));
    const { exitCode, seconds } = await stop(name);
    t.diagnostic(`docker stop of the static site took ${seconds.toFixed(2)} s`);
    assert.equal(exitCode, 0);
    assert.match(
      await containerLogs(name),
      /^bucketspace: starting: nginx serving \/app on port 8081$/m,
    );
  });

  test('static: serves /app/public when only it has an index.html', async () => {
    const dir = await workspace({ 'public/index.html': 'public site', 'README.md': 'readme' });
    const name = await run({ image: 'runtime-static', dir, env: { PORT: '8082' } });
    assert.deepEqual(await answer(name, 8082), { status: 200, body: 'public site' });
    const ip = await containerIp(name, NETWORK);
    assert.equal((await httpGet(`http://${ip}:8082/README.md`)).status, 404);
  });
});

describe('extra CA certificates (/etc/bucketspace/ca.pem)', () => {
  test('Node, npm, Python, pip and Go trust a registry whose certificate is signed by the mounted CA, and only with it', async () => {
    const server = await startRecordingHttpsServer(gateway);
    try {
      const ca = [
        '--mount',
        `type=bind,source=${server.caFile},target=/etc/bucketspace/ca.pem,readonly`,
      ];
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
        flags: ca,
        env: {
          BUCKETSPACE_INSTALL: '',
          BUCKETSPACE_START: `${nodeGet('/node')} && npm ping --registry ${server.url}/`,
        },
      });
      const python = await run({
        image: 'runtime-python',
        dir: await workspace({ 'requirements.txt': 'bucketspace-test-package\n' }),
        flags: ca,
        env: { PIP_INDEX_URL: `${server.url}/simple/` },
      });
      const pythonUrllib = await run({
        image: 'runtime-python',
        dir: empty,
        flags: ca,
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
        flags: ca,
        env: { GOPROXY: `${server.url}/goproxy`, GOSUMDB: 'off' },
      });

      assert.equal(await waitExit(withoutCa), 1, await containerLogs(withoutCa));
      assert.equal(await waitExit(node), 0, await containerLogs(node));
      assert.equal(await waitExit(pythonUrllib), 0, await containerLogs(pythonUrllib));
      // pip and go reach the server (which has no packages): their installs fail after the TLS handshake.
      assert.equal(await waitExit(python), 66, await containerLogs(python));
      assert.equal(await waitExit(go), 66, await containerLogs(go));
      assert.match(
        await containerLogs(node),
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

  const FUSE = [
    '--cap-add', 'SYS_ADMIN', '--device', '/dev/fuse', '--security-opt', 'apparmor:unconfined',
  ]; // prettier-ignore

  for (const image of ['mount-rclone', 'mount-s3fs']) {
    test(`${image}: mounts the bucket with SYS_ADMIN and /dev/fuse (not --privileged); the files are visible; healthy; stops on SIGTERM`, async () => {
      const { s3: server } = started();
      const name = `bs-images-${ID}-${++counter}`;
      containers.push(name);
      await docker([
        'run', '--detach', '--name', name, '--label', LABEL, '--network', NETWORK, ...FUSE,
        '--env', `S3_ENDPOINT=${server.endpoint}`, '--env', `S3_REGION=${server.region}`,
        '--env', `S3_ACCESS_KEY_ID=${server.accessKeyId}`,
        '--env', `S3_SECRET_ACCESS_KEY=${server.secretAccessKey}`,
        '--env', `S3_BUCKET=${bucket}`, imageRef(image),
      ]); // prettier-ignore
      const read = (path: string) => docker(['exec', name, 'cat', `/mnt/workspaces/${path}`]);
      assert.equal(await waitFor(name, () => read('shop/index.html')), 'hello from the bucket');
      assert.equal(await read('shop/src/app.js'), 'console.log(1)\n');
      // readable by the runtime containers' user too
      const mode = await docker([
        'exec',
        name,
        'stat',
        '-c',
        '%a',
        '/mnt/workspaces/shop/index.html',
      ]);
      assert.equal(Number.parseInt(mode.trim(), 8) & 0o004, 0o004, `mode ${mode.trim()}`);
      await waitFor(name, async () => {
        const health = await inspect(name, '{{.State.Health.Status}}');
        if (health !== 'healthy') throw new Error(`health: ${health}`);
      });
      const { exitCode } = await stop(name);
      assert.notEqual(exitCode, SIGKILLED, await containerLogs(name));
    });
  }

  test('control-plane: `sync` uploads a workspace to the bucket as a non-root user, with no capabilities', async () => {
    const { s3: server, client: c } = started();
    const dir = await workspace({
      'site/index.html': 'synced',
      'site/node_modules/dep/index.js': 'never uploaded',
    });
    const target = `bs-images-cp-${ID}`;
    const name = await run({
      image: 'control-plane',
      dir,
      env: {
        ...server.env(target),
        WORKSPACES_DIR: '/workspace',
        LOG_LEVEL: 'info',
      },
      command: ['sync'],
    });
    assert.equal(await waitExit(name), 0, await containerLogs(name));
    assert.deepEqual(await listKeys(c, target), ['site/index.html']);
    assert.equal(await inspect(name, '{{.Config.User}}'), '10001:10001');
  });
});
