// The monitor against a real Docker engine: `bucketspace monitor` in a child
// process, real runtime images, real containers, requests through its proxy.
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { startCliProcess } from './support/cli-process.ts';
import { writeDepsApp } from './support/deps-app.ts';
import { writeNodeApp } from './support/node-app.ts';
import { GO_MAIN, GO_MOD, PYTHON_APP } from './support/image-apps.ts';
import type Docker from 'dockerode';
import { containersOf, docker, volumesOf } from './support/docker.ts';
import { ensureImages } from './support/images.ts';
import { assertNoFailedRequest } from './support/swap-hammer.ts';
import { TEST_MONITOR_TOKEN, TestMonitor } from './support/test-monitor.ts';
import { eventually } from './support/watch-process.ts';

const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));
const token = TEST_MONITOR_TOKEN;

describe('monitor with Docker', { timeout: 600_000 }, () => {
  const m = new TestMonitor();
  const { api, view, appText } = m;

  before(async () => {
    await ensureImages(['runtime-node']);
    await m.init();
    await writeNodeApp(path.join(m.workspaces, 'alpha'), 'alpha v1');
    await m.start();
  });

  after(() => m.close());

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
    assert.deepEqual(v.deploy, {
      copy: 'verified',
      files: 3,
      dependencies: 'none',
      dependencyNote: 'nothing to install',
    });
    const containers = await containersOf(m.managedBy);
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
    await assertNoFailedRequest(
      () => appText('alpha'),
      'alpha v2',
      () => writeFile(path.join(m.workspaces, 'alpha', 'message.txt'), 'alpha v2'),
    );
    await eventually(
      'old container removed',
      async () => (await containersOf(m.managedBy)).length === 1,
      30_000,
    );
    assert.equal((await view('alpha')).restarts, 1);
  });

  test('bad workspace.json -> error shown, nothing crashes, others keep running', async () => {
    const dir = path.join(m.workspaces, 'broken');
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
      (await containersOf(m.managedBy)).filter(
        (c) => c.Labels['bucketspace.workspace'] === 'broken',
      ).length,
      0,
    );
    await rm(dir, { recursive: true });
  });

  test('a crash loop shows as crashing with the exit code and the last log lines', async () => {
    const dir = path.join(m.workspaces, 'crashy');
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
    const page = await fetch(`${m.base}/crashy/`);
    assert.ok(page.status === 502 || page.status === 503, `not-ready page status ${page.status}`);
    await rm(dir, { recursive: true });
    await eventually(
      'crashy forgotten',
      async () => (await api('/api/workspaces/crashy')).status === 404,
      30_000,
    );
  });

  test('a broken mount -> nothing removed; when it is back, all is as before', async () => {
    const before = (await containersOf(m.managedBy)).map((c) => c.Id).sort();
    assert.equal(before.length, 1);
    const aside = `${m.workspaces}.aside`;
    await rename(m.workspaces, aside);
    await eventually('mount unavailable', async () => {
      const res = await fetch(`${m.base}/healthz`);
      const body = (await res.json()) as { mount: string };
      return res.status === 503 && body.mount === 'unavailable';
    });
    // An empty root while containers run is not trusted either.
    await mkdir(m.workspaces);
    await new Promise((r) => setTimeout(r, 2_000));
    assert.deepEqual((await containersOf(m.managedBy)).map((c) => c.Id).sort(), before);
    assert.equal((await fetch(`${m.base}/healthz`)).status, 503);
    await rm(m.workspaces, { recursive: true });
    await rename(aside, m.workspaces);
    await eventually(
      'mount ok again',
      async () => (await fetch(`${m.base}/healthz`)).status === 200,
    );
    assert.deepEqual((await containersOf(m.managedBy)).map((c) => c.Id).sort(), before);
    assert.equal((await appText('alpha')).slice(0, 12), '200 alpha v2');
  });

  test('a monitor crash and restart -> the container is adopted, no duplicates', async () => {
    const before = (await containersOf(m.managedBy)).map((c) => c.Id);
    await m.proc?.stop('SIGKILL');
    await m.start();
    await eventually(
      'alpha answers again',
      async () => (await appText('alpha')).startsWith('200 alpha v2'),
      60_000,
    );
    await new Promise((r) => setTimeout(r, 2_000));
    assert.deepEqual(
      (await containersOf(m.managedBy)).map((c) => c.Id),
      before,
      'same container, adopted',
    );
    assert.ok(m.lines().some((l) => l.msg === 'adopted running container'));
  });

  test('changes while the monitor is down: a stale container is replaced, an orphan removed', async () => {
    await writeNodeApp(path.join(m.workspaces, 'beta'), 'beta v1');
    await eventually(
      'beta answers',
      async () => (await appText('beta')).startsWith('200 beta v1'),
      120_000,
    );
    await m.proc?.stop('SIGKILL');
    await writeFile(path.join(m.workspaces, 'alpha', 'message.txt'), 'alpha v3');
    await rm(path.join(m.workspaces, 'beta'), { recursive: true });
    const stale = (await containersOf(m.managedBy)).map((c) => c.Id);
    assert.equal(stale.length, 2);
    await m.start();
    await eventually(
      'alpha replaced',
      async () => (await appText('alpha')).startsWith('200 alpha v3'),
      120_000,
    );
    await eventually(
      'only the new alpha container is left',
      async () => {
        const now = await containersOf(m.managedBy);
        return now.length === 1 && !stale.includes(now[0]?.Id ?? '');
      },
      30_000,
    );
    assert.equal((await fetch(`${m.base}/beta/`)).status, 404);
  });

  test('stop and start from the API', async () => {
    assert.equal((await api('/api/workspaces/alpha/stop', { method: 'POST' })).status < 300, true);
    await eventually('stopped', async () => (await view('alpha')).state === 'stopped', 30_000);
    assert.equal((await containersOf(m.managedBy)).length, 0);
    assert.equal((await api('/api/workspaces/alpha/start', { method: 'POST' })).status < 300, true);
    await eventually(
      'running again',
      async () => (await appText('alpha')).startsWith('200 alpha v3'),
      120_000,
    );
  });

  test('the dashboard in Chromium: log in, see the real workspace, click restart, watch it come back', async () => {
    await m.dashboard(async (page) => {
      const row = page.locator('tr.ws[data-name="alpha"]');
      await row.waitFor();
      assert.match(await row.innerText(), /node[\s\S]*running/);
      const containerBefore = (await containersOf(m.managedBy)).map((c) => c.Id);
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
          const now = (await containersOf(m.managedBy)).map((c) => c.Id);
          return now.length === 1 && now[0] !== containerBefore[0];
        },
        30_000,
      );
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'monitor-docker.png'), fullPage: true });
    });
  });

  test('the mount manager API is served behind the same token', async () => {
    assert.equal((await fetch(`${m.admin}/api/v0/mounts`)).status, 401);
    const res = await api('/api/v0/mounts');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { mounts: [] });
  });

  test('workspace removed -> container removed', async () => {
    await rm(path.join(m.workspaces, 'alpha'), { recursive: true });
    // Another workspace keeps the root non-empty, so the removal is trusted.
    await mkdir(path.join(m.workspaces, 'notes'));
    await writeFile(path.join(m.workspaces, 'notes', 'README.md'), 'just notes');
    await eventually(
      'container gone',
      async () => (await containersOf(m.managedBy)).length === 0,
      30_000,
    );
    await eventually(
      'alpha forgotten',
      async () => (await fetch(`${m.base}/alpha/`)).status === 404,
    );
    await eventually(
      'notes shown as unrecognized',
      async () => (await view('notes')).state === 'unrecognized',
    );
  });
});

describe(
  'monitor: a copy that does not match the scan is never served',
  { timeout: 600_000 },
  () => {
    // The container copies from another directory than the one the monitor scans (the engine's
    // view of the workspaces, RUNTIME_WORKSPACES_HOST_DIR): the two disagree, as a mount does
    // that serves stale or truncated content, or files that change between the scan and the copy.
    const m: TestMonitor = new TestMonitor(() => ({ RUNTIME_WORKSPACES_HOST_DIR: copies() }));
    const copies = (): string => path.join(m.root, 'engine-view');
    const { view, appText } = m;

    /** Make the engine's copy of the file what the scan saw: same content, same mtime. */
    async function agree(rel: string): Promise<void> {
      await cp(path.join(m.workspaces, rel), path.join(copies(), rel), {
        preserveTimestamps: true,
      });
    }

    before(async () => {
      await ensureImages(['runtime-node']);
      await m.init();
      await writeNodeApp(path.join(m.workspaces, 'vapp'), 'vapp v1');
      await cp(m.workspaces, copies(), { recursive: true, preserveTimestamps: true });
      await m.start();
    });

    after(() => m.close());

    test('regression: stale content under a new fingerprint -> not served, the mismatch shown, served once the copy agrees', async () => {
      await eventually(
        'v1 answers',
        async () => (await appText('vapp')).startsWith('200 vapp v1'),
        120_000,
      );
      assert.equal((await view('vapp')).deploy !== null, true);
      const servingV1 = (await view('vapp')).containerId;
      // The scan sees v2; the engine's view still has the old, longer text.
      await writeFile(path.join(m.workspaces, 'vapp', 'message.txt'), 'vapp v2');
      await writeFile(path.join(copies(), 'vapp', 'message.txt'), 'vapp v1 (stale)');
      const answers = new Set<string>();
      await eventually(
        'the mismatch is shown',
        async () => {
          answers.add((await appText('vapp')).slice(0, 16));
          const v = await view('vapp');
          return v.state === 'crashing' && /does not match the scan/.test(String(v.message));
        },
        120_000,
      );
      const v = await view('vapp');
      assert.match(
        String(v.message),
        /the copy in the container does not match the scan \(message\.txt: 7 bytes in the scan, 15 in the copy\); retrying in \d+ s \(the previous version keeps serving\)/,
      );
      assert.equal(v.containerId, servingV1, 'the v1 container still serves');
      await eventually(
        'the rejected container is removed',
        async () => (await containersOf(m.managedBy)).length === 1,
        30_000,
      );
      assert.ok(
        [...answers].every((a) => a.startsWith('200 vapp v1 url')),
        `only v1 answered: ${[...answers].join(' | ')}`,
      );
      // Same size, older mtime: still not the scanned file.
      await writeFile(path.join(copies(), 'vapp', 'message.txt'), 'vapp v3');
      await utimes(path.join(copies(), 'vapp', 'message.txt'), 1_600_000_000, 1_600_000_000);
      await eventually(
        'a same-size stale file is refused too',
        async () =>
          /message\.txt: modified .* in the scan, 2020-09-13T12:26:40\.000Z in the copy/.test(
            String((await view('vapp')).message),
          ),
        120_000,
      );
      assert.match(await appText('vapp'), /^200 vapp v1 url/);
      await agree('vapp/message.txt');
      await eventually(
        'v2 answers',
        async () => (await appText('vapp')).startsWith('200 vapp v2'),
        120_000,
      );
      const served = await view('vapp');
      assert.equal(served.state, 'running');
      assert.equal((served.deploy as { copy: string }).copy, 'verified');
    });
  },
);

describe('monitor: dependencies reused across code edits', { timeout: 600_000 }, () => {
  const m = new TestMonitor();
  const { view, appText } = m;

  before(async () => {
    await ensureImages(['runtime-node']);
    await m.init();
    await writeDepsApp(path.join(m.workspaces, 'shop'), { greeting: 'hello', message: 'v1' });
    await m.start();
  });

  after(() => m.close());

  const deploy = async (name: string) =>
    (await view(name)).deploy as { dependencies: string; dependencyNote: string; copy: string };

  /** The dependency-cache volumes of a workspace, by the key on their label. */
  async function cachesOf(workspace: string): Promise<string[]> {
    return (await volumesOf(m.managedBy))
      .filter((v) => v.Labels['bucketspace.workspace'] === workspace)
      .map((v) => v.Labels['bucketspace.dependency-key'] ?? '')
      .sort();
  }

  /** The workspace's one container, once the one it replaced has drained and gone. */
  async function containerOf(workspace: string): Promise<Docker.ContainerInspectInfo> {
    const of = async () =>
      (await containersOf(m.managedBy)).filter(
        (c) => c.Labels['bucketspace.workspace'] === workspace,
      );
    await eventually(`one container of ${workspace}`, async () => (await of()).length === 1);
    return docker.getContainer((await of())[0]?.Id ?? '').inspect();
  }

  test('first start installs into a cache of its own; a code edit reuses it; a dependency change installs fresh', async () => {
    await eventually('v1', async () => (await appText('shop')).startsWith('200 hello v1'), 180_000);
    assert.equal((await deploy('shop')).dependencies, 'installed');
    assert.match(
      (await deploy('shop')).dependencyNote,
      /package\.json dependencies, package-lock\.json, packages\/greeting-1\.0\.0\.tgz/,
    );
    const first = await containerOf('shop');
    const key = first.Config.Labels['bucketspace.dependency-key'] ?? '';
    assert.match(key, /^[0-9a-f]{32}$/);
    assert.deepEqual(await cachesOf('shop'), [key]);
    const mount = first.Mounts.find((mt) => mt.Destination === '/app/node_modules');
    assert.equal(mount?.Type, 'volume');
    assert.equal(mount?.RW, true);

    await writeFile(path.join(m.workspaces, 'shop', 'message.txt'), 'v2');
    await eventually('v2', async () => (await appText('shop')).startsWith('200 hello v2'), 180_000);
    assert.equal((await deploy('shop')).dependencies, 'reused');
    assert.equal((await deploy('shop')).copy, 'verified');
    const second = await containerOf('shop');
    assert.notEqual(second.Id, first.Id);
    assert.equal(second.Config.Labels['bucketspace.dependency-key'], key);
    const logs = (await m.api('/api/workspaces/shop/logs?tail=50').then((r) => r.json())) as {
      lines: string[];
    };
    assert.ok(
      logs.lines.some((l) => l.includes('reusing the dependencies in /app/node_modules')),
      logs.lines.join('\n'),
    );
    assert.ok(!logs.lines.some((l) => l.includes('installing: npm ci')));
    await m.dashboard(async (page) => {
      const row = page.locator('tr.ws[data-name="shop"]');
      await row.waitFor();
      assert.match(await row.innerText(), /dependencies reused · copy verified \(\d+ files\)/);
    });

    await writeDepsApp(path.join(m.workspaces, 'shop'), { greeting: 'bonjour', message: 'v2' });
    await eventually(
      'the new dependency',
      async () => (await appText('shop')).startsWith('200 bonjour v2'),
      180_000,
    );
    assert.equal((await deploy('shop')).dependencies, 'installed');
    const third = await containerOf('shop');
    const newKey = third.Config.Labels['bucketspace.dependency-key'] ?? '';
    assert.notEqual(newKey, key);
    await eventually(
      'the old cache is removed',
      async () => (await cachesOf('shop')).join() === newKey,
      30_000,
    );
  });

  test('each workspace has its own cache, mounted into its containers only', async () => {
    await writeDepsApp(path.join(m.workspaces, 'blog'), { greeting: 'bonjour', message: 'b1' });
    await eventually(
      'blog',
      async () => (await appText('blog')).startsWith('200 bonjour b1'),
      180_000,
    );
    assert.equal(
      (await deploy('blog')).dependencies,
      'installed',
      'not the shop cache, though the files are the same',
    );
    const shop = await containerOf('shop');
    const blog = await containerOf('blog');
    const volumeOf = (c: Docker.ContainerInspectInfo) =>
      c.Mounts.filter((mt) => mt.Type === 'volume').map((mt) => mt.Name);
    assert.equal(volumeOf(shop).length, 1);
    assert.equal(volumeOf(blog).length, 1);
    assert.notEqual(volumeOf(shop)[0], volumeOf(blog)[0]);
    assert.match(volumeOf(blog)[0] ?? '', /-blog-/);
  });

  test('python and go: the venv and the module cache are reused too', async () => {
    await ensureImages(['runtime-python', 'runtime-go']);
    const py = path.join(m.workspaces, 'pyapp');
    await mkdir(py, { recursive: true });
    await writeFile(path.join(py, 'app.py'), PYTHON_APP);
    await writeFile(path.join(py, 'requirements.txt'), '# nothing to download here\n');
    await writeFile(path.join(py, 'note.txt'), '1');
    const go = path.join(m.workspaces, 'goapp');
    await mkdir(go, { recursive: true });
    await writeFile(path.join(go, 'main.go'), GO_MAIN);
    await writeFile(path.join(go, 'go.mod'), GO_MOD);
    await writeFile(path.join(go, 'note.txt'), '1');
    const answers = async (name: string, text: string) =>
      eventually(`${name} answers`, async () => (await appText(name)).includes(text), 180_000);
    await answers('pyapp', '"executable": "/app/.venv/bin/python');
    await answers('goapp', 'go as uid 10001');
    assert.equal((await deploy('pyapp')).dependencies, 'installed');
    assert.equal((await deploy('goapp')).dependencies, 'installed');
    const before = {
      pyapp: (await view('pyapp')).containerId,
      goapp: (await view('goapp')).containerId,
    };
    await writeFile(path.join(py, 'note.txt'), '2');
    await writeFile(path.join(go, 'note.txt'), '2');
    for (const name of ['pyapp', 'goapp'] as const) {
      await eventually(
        `${name} replaced`,
        async () => {
          const v = await view(name);
          return v.state === 'running' && v.containerId !== before[name];
        },
        180_000,
      );
      assert.equal((await deploy(name)).dependencies, 'reused', name);
    }
    await answers('pyapp', '"executable": "/app/.venv/bin/python');
    await answers('goapp', 'go as uid 10001');
    await rm(py, { recursive: true });
    await rm(go, { recursive: true });
  });

  test('a removed workspace takes its cache with it', async () => {
    await rm(path.join(m.workspaces, 'blog'), { recursive: true });
    await eventually(
      'blog cache removed',
      async () => (await cachesOf('blog')).length === 0,
      60_000,
    );
    assert.equal((await cachesOf('shop')).length, 1);
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
