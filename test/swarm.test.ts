// The monitor with RUNTIME_ENGINE=swarm against a real swarm of one node: this machine's
// Docker engine made a manager for the duration of the file (and left as it was found).
// Real runtime images, real services, requests through the monitor's proxy over the
// overlay network. Two nodes: test/swarm-two-nodes.ts (npm run test:swarm).
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { docker as engine } from './support/docker.ts';
import { PYTHON_APP } from './support/image-apps.ts';
import { ensureImages } from './support/images.ts';
import { writeNodeApp } from './support/node-app.ts';
import { assertNoFailedRequest } from './support/swap-hammer.ts';
import { SwarmCluster } from './support/swarm-cluster.ts';
import { SwarmMonitor } from './support/swarm-monitor.ts';
import { eventually } from './support/watch-process.ts';

describe('monitor on Docker Swarm (one node)', { timeout: 900_000 }, () => {
  const m = new SwarmMonitor(() => ({ SWARM_HEALTH_INTERVAL: '1s' }));
  const { view, appText } = m;
  const label = `bucketspace.managed-by=${m.managedBy}`;
  /** The static site's page. */
  const siteText = async () => {
    const res = await fetch(`${m.base}/site/`);
    return `${res.status} ${await res.text()}`;
  };

  before(async () => {
    await ensureImages(['runtime-node', 'runtime-python', 'runtime-static', 'control-plane']);
    m.cluster = await SwarmCluster.init();
    await m.init();
    await m.createNetwork();
    await writeNodeApp(path.join(m.workspaces, 'alpha'), 'alpha v1');
    const py = path.join(m.workspaces, 'pyapp');
    await mkdir(py, { recursive: true });
    await writeFile(path.join(py, 'app.py'), PYTHON_APP);
    await writeFile(path.join(py, 'requirements.txt'), '# nothing to download here\n');
    await mkdir(path.join(m.workspaces, 'site'), { recursive: true });
    await writeFile(path.join(m.workspaces, 'site', 'index.html'), '<h1>site on swarm</h1>');
    await m.start();
  });

  after(() => m.close());

  test('node, python and static workspaces: one service each, serving through the overlay network', async () => {
    await eventually(
      'alpha',
      async () => (await appText('alpha')).startsWith('200 alpha v1'),
      180_000,
    );
    await eventually(
      'pyapp',
      async () => (await appText('pyapp')).includes('/app/.venv/bin/python'),
      180_000,
    );
    await eventually('site', async () => (await siteText()).includes('site on swarm'), 180_000);
    const v = await view('alpha');
    assert.equal(v.state, 'running');
    assert.deepEqual(v.deploy, {
      copy: 'verified',
      files: 3,
      dependencies: 'none',
      dependencyNote: 'nothing to install',
    });
    assert.equal(
      ((await view('pyapp')).deploy as { dependencies: string }).dependencies,
      'installed',
    );
    const spec = (await m.serviceOf('alpha')).Spec!;
    const task = spec.TaskTemplate as unknown as {
      ContainerSpec: {
        Image: string;
        CapabilityDrop: string[];
        Mounts: { Target: string; ReadOnly?: boolean }[];
        // The engine answers with Go's field name (the API's types say HealthCheck).
        Healthcheck: { Test: string[] };
      };
      Resources: { Limits: object; Reservations: object };
      RestartPolicy: { Condition: string };
      Placement: { Preferences: unknown[] };
    };
    assert.match(task.ContainerSpec.Image, /^sha256:[0-9a-f]{64}$/, 'pinned to the image ID');
    assert.deepEqual(task.ContainerSpec.CapabilityDrop, ['ALL']);
    assert.ok(
      task.ContainerSpec.Mounts.some((mt) => mt.Target === '/workspace' && mt.ReadOnly === true),
    );
    assert.deepEqual(task.ContainerSpec.Healthcheck.Test.slice(0, 3), ['CMD', 'bash', '-c']);
    assert.ok(
      'MemoryBytes' in task.Resources.Limits && 'MemoryBytes' in task.Resources.Reservations,
    );
    assert.equal(task.RestartPolicy.Condition, 'any');
    assert.deepEqual(task.Placement.Preferences, [{ Spread: { SpreadDescriptor: 'node.id' } }]);
    assert.equal(spec.UpdateConfig?.Order, 'start-first');
    assert.deepEqual(spec.Mode, { Replicated: { Replicas: 1 } });
    const [container] = await engine.listContainers({
      filters: { label: [label, 'bucketspace.workspace=alpha'] },
    });
    const info = await engine.getContainer(container!.Id).inspect();
    assert.notEqual(info.Config.User, '', 'runs as the image non-root user');
    assert.deepEqual(info.HostConfig.CapDrop, ['ALL']);
  });

  test('an edit rolls the service out start-first with no failed request', async () => {
    const before = await m.serviceOf('alpha');
    await assertNoFailedRequest(
      () => appText('alpha'),
      'alpha v2',
      () => writeFile(path.join(m.workspaces, 'alpha', 'message.txt'), 'alpha v2'),
    );
    const after = await m.serviceOf('alpha');
    assert.equal(after.ID, before.ID, 'the same service, rolled out');
    assert.notEqual(
      after.Spec?.Labels?.['bucketspace.revision'],
      before.Spec?.Labels?.['bucketspace.revision'],
    );
    await eventually(
      'one task left',
      async () => (await m.liveTasks('alpha')).length === 1,
      30_000,
    );
    assert.equal((await view('alpha')).restarts, 1);
  });

  test('a monitor killed and started again adopts the services as they are', async () => {
    const revision = (await m.serviceOf('alpha')).Spec?.Labels?.['bucketspace.revision'];
    await m.proc?.stop('SIGKILL');
    await m.start();
    await eventually(
      'alpha answers again',
      async () => (await appText('alpha')).startsWith('200 alpha v2'),
      60_000,
    );
    await eventually(
      'adopted and checked',
      async () => (await view('alpha')).deploy !== null,
      30_000,
    );
    assert.equal(
      (await m.serviceOf('alpha')).Spec?.Labels?.['bucketspace.revision'],
      revision,
      'not redeployed',
    );
    assert.ok(m.lines().some((l) => l.msg === 'adopted running container'));
  });

  test('logs (from the task, through the manager) and the dashboard, as with Docker', async () => {
    const logs = (await m.api('/api/workspaces/alpha/logs?tail=50').then((r) => r.json())) as {
      lines: string[];
    };
    assert.ok(
      logs.lines.some((l) => l.includes('listening on 3000')),
      logs.lines.join('\n'),
    );
    await m.dashboard(async (page) => {
      const row = page.locator('tr.ws[data-name="alpha"]');
      await row.waitFor();
      assert.match(await row.innerText(), /node[\s\S]*running/);
    });
  });

  test('stop and start from the API', async () => {
    assert.ok((await m.api('/api/workspaces/site/stop', { method: 'POST' })).ok);
    await eventually('stopped', async () => (await view('site')).state === 'stopped', 60_000);
    assert.equal((await m.services('site')).length, 0);
    assert.ok((await m.api('/api/workspaces/site/start', { method: 'POST' })).ok);
    await eventually(
      'site again',
      async () => (await siteText()).includes('site on swarm'),
      120_000,
    );
  });

  test('a removed workspace takes its service with it', async () => {
    await rm(path.join(m.workspaces, 'pyapp'), { recursive: true });
    await eventually(
      'pyapp service removed',
      async () => (await m.services('pyapp')).length === 0,
      60_000,
    );
    assert.equal((await m.api('/api/workspaces/pyapp')).status, 404);
  });
});
