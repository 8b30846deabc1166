// The monitor against a real Docker engine: `bucketspace monitor` in a child
// process, real runtime images, real containers, requests through its proxy.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { startCliProcess, type CliProcess } from './support/cli-process.ts';
import { cleanupDocker, containersOf, docker } from './support/docker.ts';
import { ensureImages } from './support/images.ts';
import { eventually } from './support/watch-process.ts';

const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));
const id = randomBytes(3).toString('hex');
const managedBy = `test-monitor-${id}`;
const network = `bucketspace-test-${id}`;
const token = `test-token-${randomBytes(12).toString('hex')}`;

/** A dependency-free Node app that answers with the text of message.txt. */
async function writeNodeApp(dir: string, message: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, 'package.json'),
    JSON.stringify({
      name: path.basename(dir),
      private: true,
      scripts: { start: 'node server.js' },
    }),
  );
  await writeFile(
    path.join(dir, 'server.js'),
    `const http = require('node:http');
const fs = require('node:fs');
const message = fs.readFileSync(__dirname + '/message.txt', 'utf8').trim();
if (message === 'crash') { console.error('boom: refusing to start'); process.exit(3); }
http.createServer((req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end(message + ' url=' + req.url + ' prefix=' + (req.headers['x-forwarded-prefix'] || ''));
}).listen(Number(process.env.PORT), () => console.log('listening on ' + process.env.PORT));
process.on('SIGTERM', () => process.exit(0));
`,
  );
  await writeFile(path.join(dir, 'message.txt'), message);
}

describe('monitor with Docker', { timeout: 600_000 }, () => {
  let root: string;
  let workspaces: string;
  let dataDir: string;
  let monitor: CliProcess | undefined;
  /** The apps origin and the admin origin (dashboard, API). */
  let base = '';
  let admin = '';

  const env = () => ({
    WORKSPACES_MOUNT: workspaces,
    MONITOR_DATA_DIR: dataDir,
    MONITOR_PORT: '0',
    MONITOR_HOST: '127.0.0.1',
    MONITOR_ADMIN_PORT: '0',
    MONITOR_TOKEN: token,
    MONITOR_POLL_INTERVAL: '500ms',
    MONITOR_RESTART_DEBOUNCE: '200ms',
    MONITOR_STOP_TIMEOUT: '5s',
    MONITOR_INSTANCE: managedBy,
    MONITOR_NETWORK: network,
    MOUNT_REGISTRY: path.join(root, 'mounts.db'),
    MOUNT_DIR: path.join(root, 'mnt'),
    LOG_LEVEL: 'debug',
  });

  async function startMonitor(): Promise<CliProcess> {
    const proc = await startCliProcess({
      args: ['monitor'],
      env: env(),
      readyMessage: 'started monitor',
      readyTimeoutMs: 60_000,
    });
    const ready = proc.lines().find((l) => l.msg === 'started monitor');
    base = `http://127.0.0.1:${String(ready?.port)}`;
    admin = `http://127.0.0.1:${String(ready?.adminPort)}`;
    return proc;
  }

  const api = (p: string, init: RequestInit = {}) =>
    fetch(`${admin}${p}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) },
    });

  async function view(name: string): Promise<{ state: string; [k: string]: unknown }> {
    const res = await api(`/api/workspaces/${name}`);
    assert.equal(res.status, 200, `GET /api/workspaces/${name}`);
    return ((await res.json()) as { workspace: { state: string } }).workspace;
  }

  async function appText(name: string): Promise<string> {
    const res = await fetch(`${base}/${name}/hello?x=1`);
    return `${res.status} ${await res.text()}`;
  }

  before(async () => {
    await ensureImages(['runtime-node']);
    root = await mkdtemp(path.join(tmpdir(), 'bs-monitor-'));
    workspaces = path.join(root, 'workspaces');
    dataDir = path.join(root, 'data');
    await writeNodeApp(path.join(workspaces, 'alpha'), 'alpha v1');
    monitor = await startMonitor();
  });

  after(async () => {
    await monitor?.stop();
    await cleanupDocker(managedBy, network);
    await rm(root, { recursive: true, force: true });
  });

  test('a workspace appears -> its container runs -> its response comes through the proxy', async () => {
    await eventually(
      'alpha answers',
      async () => (await appText('alpha')).startsWith('200 alpha v1'),
      120_000,
    );
    assert.equal(await appText('alpha'), '200 alpha v1 url=/hello?x=1 prefix=/alpha');
    const v = await view('alpha');
    assert.equal(v.state, 'running');
    assert.equal(v.type, 'node');
    assert.match(String(v.reason), /scripts\.start/);
    const containers = await containersOf(managedBy);
    assert.equal(containers.length, 1);
    const info = await docker.getContainer(containers[0]?.Id ?? '').inspect();
    assert.deepEqual(info.HostConfig.CapDrop, ['ALL']);
    assert.deepEqual(info.HostConfig.SecurityOpt, ['no-new-privileges']);
    assert.deepEqual(info.HostConfig.PortBindings ?? {}, {}, 'no host ports published');
    assert.notEqual(info.Config.User, '', 'runs as a non-root user');
    assert.ok(!info.HostConfig.Binds?.some((b) => b.includes('docker.sock')));
    assert.ok(info.Mounts.some((m) => m.Destination === '/workspace' && m.RW === false));
  });

  test('an edit -> the new response, with no failed request during the swap', async () => {
    let failures = 0;
    let requests = 0;
    let sawNew = false;
    const hammer = (async () => {
      const deadline = Date.now() + 120_000;
      while (!sawNew && Date.now() < deadline) {
        const text = await appText('alpha').catch((err: unknown) => `ERR ${String(err)}`);
        requests += 1;
        if (!text.startsWith('200 ')) failures += 1;
        if (text.startsWith('200 alpha v2')) sawNew = true;
      }
    })();
    await writeFile(path.join(workspaces, 'alpha', 'message.txt'), 'alpha v2');
    await hammer;
    assert.ok(sawNew, 'the new version answered');
    assert.equal(failures, 0, `${failures} of ${requests} requests failed during the swap`);
    await eventually(
      'old container removed',
      async () => (await containersOf(managedBy)).length === 1,
      30_000,
    );
    assert.equal((await view('alpha')).restarts, 1);
  });

  test('bad workspace.json -> error shown, nothing crashes, others keep running', async () => {
    const dir = path.join(workspaces, 'broken');
    await writeNodeApp(dir, 'broken');
    await writeFile(path.join(dir, 'workspace.json'), JSON.stringify({ port: 'eighty' }));
    await eventually(
      'broken shows an error',
      async () => (await view('broken')).state === 'error',
      30_000,
    );
    assert.match(String((await view('broken')).reason), /port/);
    assert.equal((await appText('alpha')).slice(0, 12), '200 alpha v2');
    assert.equal(
      (await containersOf(managedBy)).filter((c) => c.Labels['bucketspace.workspace'] === 'broken')
        .length,
      0,
    );
    await rm(dir, { recursive: true });
  });

  test('a crash loop shows as crashing with the exit code and the last log lines', async () => {
    const dir = path.join(workspaces, 'crashy');
    await writeNodeApp(dir, 'crash');
    await eventually(
      'crashy is crashing',
      async () => (await view('crashy')).state === 'crashing',
      120_000,
    );
    const v = await view('crashy');
    assert.equal(v.exitCode, 3);
    assert.ok(
      (v.lastLogLines as string[]).some((l) => l.includes('boom: refusing to start')),
      JSON.stringify(v),
    );
    assert.match(String(v.message), /exited with code 3.*retrying in \d+ s/);
    const page = await fetch(`${base}/crashy/`);
    assert.ok(page.status === 502 || page.status === 503, `not-ready page status ${page.status}`);
    await rm(dir, { recursive: true });
    await eventually(
      'crashy forgotten',
      async () => (await api('/api/workspaces/crashy')).status === 404,
      30_000,
    );
  });

  test('a broken mount -> nothing removed; when it is back, all is as before', async () => {
    const before = (await containersOf(managedBy)).map((c) => c.Id).sort();
    assert.equal(before.length, 1);
    const aside = `${workspaces}.aside`;
    await rename(workspaces, aside);
    await eventually('mount unavailable', async () => {
      const res = await fetch(`${base}/healthz`);
      const body = (await res.json()) as { mount: string };
      return res.status === 503 && body.mount === 'unavailable';
    });
    // An empty root while containers run is not trusted either.
    await mkdir(workspaces);
    await new Promise((r) => setTimeout(r, 2_000));
    assert.deepEqual((await containersOf(managedBy)).map((c) => c.Id).sort(), before);
    assert.equal((await fetch(`${base}/healthz`)).status, 503);
    await rm(workspaces, { recursive: true });
    await rename(aside, workspaces);
    await eventually('mount ok again', async () => (await fetch(`${base}/healthz`)).status === 200);
    assert.deepEqual((await containersOf(managedBy)).map((c) => c.Id).sort(), before);
    assert.equal((await appText('alpha')).slice(0, 12), '200 alpha v2');
  });

  test('a monitor crash and restart -> the container is adopted, no duplicates', async () => {
    const before = (await containersOf(managedBy)).map((c) => c.Id);
    await monitor?.stop('SIGKILL');
    monitor = await startMonitor();
    await eventually(
      'alpha answers again',
      async () => (await appText('alpha')).startsWith('200 alpha v2'),
      60_000,
    );
    await new Promise((r) => setTimeout(r, 2_000));
    assert.deepEqual(
      (await containersOf(managedBy)).map((c) => c.Id),
      before,
      'same container, adopted',
    );
    assert.ok(monitor.lines().some((l) => l.msg === 'adopted running container'));
  });

  test('changes while the monitor is down: a stale container is replaced, an orphan removed', async () => {
    await writeNodeApp(path.join(workspaces, 'beta'), 'beta v1');
    await eventually(
      'beta answers',
      async () => (await appText('beta')).startsWith('200 beta v1'),
      120_000,
    );
    await monitor?.stop('SIGKILL');
    await writeFile(path.join(workspaces, 'alpha', 'message.txt'), 'alpha v3');
    await rm(path.join(workspaces, 'beta'), { recursive: true });
    const stale = (await containersOf(managedBy)).map((c) => c.Id);
    assert.equal(stale.length, 2);
    monitor = await startMonitor();
    await eventually(
      'alpha replaced',
      async () => (await appText('alpha')).startsWith('200 alpha v3'),
      120_000,
    );
    await eventually(
      'only the new alpha container is left',
      async () => {
        const now = await containersOf(managedBy);
        return now.length === 1 && !stale.includes(now[0]?.Id ?? '');
      },
      30_000,
    );
    assert.equal((await fetch(`${base}/beta/`)).status, 404);
  });

  test('stop and start from the API', async () => {
    assert.equal((await api('/api/workspaces/alpha/stop', { method: 'POST' })).status < 300, true);
    await eventually('stopped', async () => (await view('alpha')).state === 'stopped', 30_000);
    assert.equal((await containersOf(managedBy)).length, 0);
    assert.equal((await api('/api/workspaces/alpha/start', { method: 'POST' })).status < 300, true);
    await eventually(
      'running again',
      async () => (await appText('alpha')).startsWith('200 alpha v3'),
      120_000,
    );
  });

  test('the dashboard in Chromium: log in, see the real workspace, click restart, watch it come back', async () => {
    const profile = await mkdtemp(path.join(tmpdir(), 'bs-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      viewport: { width: 1360, height: 600 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-quic',
        '--disable-sync',
      ],
    });
    try {
      const page = await context.newPage();
      await page.goto(`${admin}/monitor`);
      await page.getByLabel('Token').fill(token);
      await page.getByRole('button', { name: 'Log in' }).click();
      const row = page.locator('tr.ws[data-name="alpha"]');
      await row.waitFor();
      assert.match(await row.innerText(), /node[\s\S]*running/);
      const containerBefore = (await containersOf(managedBy)).map((c) => c.Id);
      await row.getByRole('button', { name: 'Restart alpha', exact: true }).click();
      // Live, without a reload: the replacement is started, then serves.
      await page
        .locator('tr.ws[data-name="alpha"]', { hasText: 'restarting' })
        .waitFor({ timeout: 60_000 });
      await page
        .locator('tr.ws[data-name="alpha"]', { hasText: /running/ })
        .waitFor({ timeout: 120_000 });
      await eventually(
        'the old container is gone',
        async () => {
          const now = (await containersOf(managedBy)).map((c) => c.Id);
          return now.length === 1 && now[0] !== containerBefore[0];
        },
        30_000,
      );
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'monitor-docker.png'), fullPage: true });
    } finally {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    }
  });

  test('the mount manager API is served behind the same token', async () => {
    assert.equal((await fetch(`${admin}/api/v0/mounts`)).status, 401);
    const res = await api('/api/v0/mounts');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { mounts: [] });
  });

  test('workspace removed -> container removed', async () => {
    await rm(path.join(workspaces, 'alpha'), { recursive: true });
    // Another workspace keeps the root non-empty, so the removal is trusted.
    await mkdir(path.join(workspaces, 'notes'));
    await writeFile(path.join(workspaces, 'notes', 'README.md'), 'just notes');
    await eventually(
      'container gone',
      async () => (await containersOf(managedBy)).length === 0,
      30_000,
    );
    await eventually('alpha forgotten', async () => (await fetch(`${base}/alpha/`)).status === 404);
    await eventually(
      'notes shown as unrecognized',
      async () => (await view('notes')).state === 'unrecognized',
    );
  });
});

describe('monitor without Docker', { timeout: 120_000 }, () => {
  test('says clearly that Docker is unreachable, keeps running and serving its health', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'bs-monitor-nodocker-'));
    await mkdir(path.join(root, 'workspaces', 'site'), { recursive: true });
    await writeFile(path.join(root, 'workspaces', 'site', 'index.html'), '<h1>hi</h1>');
    const proc = await startCliProcess({
      args: ['monitor'],
      env: {
        WORKSPACES_MOUNT: path.join(root, 'workspaces'),
        MONITOR_DATA_DIR: path.join(root, 'data'),
        MONITOR_PORT: '0',
        MONITOR_HOST: '127.0.0.1',
        MONITOR_ADMIN_PORT: '0',
        MONITOR_TOKEN: token,
        MONITOR_POLL_INTERVAL: '200ms',
        MONITOR_MOUNTS: 'false',
        DOCKER_HOST: `unix://${path.join(root, 'no-docker.sock')}`,
      },
      readyMessage: 'started monitor',
    });
    try {
      const port = String(proc.lines().find((l) => l.msg === 'started monitor')?.port);
      const line = await proc.waitForLog((l) => l.msg === 'Docker is unreachable; retrying');
      assert.match(JSON.stringify(line), /is dockerd running\? is DOCKER_HOST right\?/);
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(res.status, 503);
      const body = (await res.json()) as { docker: string };
      assert.equal(body.docker, 'unreachable');
      await new Promise((r) => setTimeout(r, 1_000));
      assert.equal(proc.child.exitCode, null, 'still running');
      assert.equal(
        proc.lines().filter((l) => l.msg === 'Docker is unreachable; retrying').length,
        1,
        'said once',
      );
    } finally {
      await proc.stop();
      await rm(root, { recursive: true, force: true });
    }
  });
});
