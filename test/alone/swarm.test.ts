// The monitor with RUNTIME_ENGINE=swarm against real swarms, one after the other (both
// make this machine's Docker engine a manager, for as long as each suite runs, and leave
// it as they found it). One node: real runtime images, real services, requests through
// the monitor's proxy over the overlay network. Two nodes: a second engine in a network
// namespace joined as a worker, the runtime image copied to it with `docker save | load`
// (no registry). Both suites are in this one file so that they never overlap.
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { docker } from '../support/docker-cli.ts';
import { docker as engine } from '../support/docker.ts';
import { PYTHON_APP } from '../support/image-apps.ts';
import { ensureImages, imageRef } from '../support/images.ts';
import { writeNodeApp } from '../support/node-app.ts';
import { assertNoFailedRequest } from '../support/swap-hammer.ts';
import { SwarmCluster, type WorkerNode } from '../support/swarm-cluster.ts';
import { SwarmMonitor } from '../support/swarm-monitor.ts';
import { eventually } from '../support/watch-process.ts';

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
    // The service goes first; the monitor forgets the workspace when its removal ends.
    await eventually(
      'pyapp forgotten',
      async () => (await m.api('/api/workspaces/pyapp')).status === 404,
      30_000,
    );
    assert.equal((await m.services('pyapp')).length, 0);
  });
});

describe('monitor on Docker Swarm (two nodes)', { timeout: 900_000 }, () => {
  let cluster: SwarmCluster | undefined;
  let worker: WorkerNode;
  const m = new SwarmMonitor(() => ({ SWARM_HEALTH_INTERVAL: '1s' }));
  const { view, appText } = m;
  const workspaces = ['w1', 'w2', 'w3', 'w4'];
  /**
   * The app's answer, or an error after 3 s: a request sent to a task on a
   * node that just died waits for the proxy's timeout, which would be timed
   * instead of the rescheduling.
   */
  const answer = async (name: string): Promise<string> => {
    try {
      const res = await fetch(`${m.base}/${name}/`, { signal: AbortSignal.timeout(3_000) });
      return `${res.status} ${await res.text()}`;
    } catch (err) {
      return `ERR ${String(err)}`;
    }
  };

  before(async () => {
    await ensureImages(['runtime-node', 'runtime-static', 'control-plane']);
    // A short heartbeat: a node that stops answering is declared down within seconds.
    cluster = await SwarmCluster.init({ dispatcherHeartbeat: '1s' });
    m.cluster = cluster;
    worker = await cluster.addWorker();
    await worker.loadImages([imageRef('runtime-node')]);
    await m.init();
    await m.createNetwork();
    for (const name of workspaces) await writeNodeApp(path.join(m.workspaces, name), `${name} v1`);
    await m.start();
  });

  after(() => m.close());

  test('workspaces spread over both nodes and serve from both', async () => {
    for (const name of workspaces) {
      await eventually(
        name,
        async () => (await appText(name)).startsWith(`200 ${name} v1`),
        180_000,
      );
    }
    const nodes = await Promise.all(workspaces.map((w) => m.nodeOf(w)));
    assert.deepEqual([...new Set(nodes)].sort(), [cluster!.managerId, worker.nodeId].sort());
    for (const [i, name] of workspaces.entries()) {
      assert.ok((await appText(name)).startsWith(`200 ${name} v1`));
      // The manager cannot read another node's container: the copy is checked only on its own node.
      const copy = ((await view(name)).deploy as { copy: string }).copy;
      assert.equal(copy, nodes[i] === worker.nodeId ? 'unverified' : 'verified', name);
    }
  });

  test('a node without the runtime image: the task is refused and the workspace says so, with the node', async () => {
    // Only the worker may take new tasks, and it has no runtime-static image.
    await docker(['node', 'update', '--availability', 'pause', cluster!.managerId]);
    try {
      await mkdir(path.join(m.workspaces, 'lonely'), { recursive: true });
      await writeFile(path.join(m.workspaces, 'lonely', 'index.html'), '<p>no image there</p>');
      await eventually(
        'lonely refused',
        async () => (await view('lonely')).state === 'error',
        120_000,
      );
      const message = String((await view('lonely')).message);
      assert.match(message, new RegExp(`rejected on node ${worker.hostname}: No such image`));
      assert.match(
        message,
        /every node that runs workspaces needs the image bucketspace\/runtime-static/,
      );
      assert.equal(
        (await m.services('lonely')).length,
        0,
        'the refused service is not left behind',
      );
    } finally {
      await docker(['node', 'update', '--availability', 'active', cluster!.managerId]);
      await rm(path.join(m.workspaces, 'lonely'), { recursive: true, force: true });
    }
  });

  test("the worker's engine killed: its workspaces are rescheduled on the manager and serve again, nothing duplicated", async () => {
    const moved = [];
    for (const name of workspaces) if ((await m.nodeOf(name)) === worker.nodeId) moved.push(name);
    assert.ok(moved.length > 0);
    const t0 = Date.now();
    await worker.kill();
    await eventually(
      'the worker marked down',
      async () =>
        (
          await docker(['node', 'inspect', '--format', '{{.Status.State}}', worker.nodeId])
        ).trim() === 'down',
      120_000,
    );
    const times: Record<string, number> = { 'node down': Date.now() - t0 };
    for (const name of moved) {
      await eventually(
        `${name} serves from the manager`,
        async () =>
          (await m.nodeOf(name).catch(() => '')) === cluster!.managerId &&
          (await answer(name)).startsWith(`200 ${name} v1`),
        180_000,
      );
      times[name] = Date.now() - t0;
    }
    console.log(
      `swarm: worker killed -> serving again from the manager after ${JSON.stringify(times)} ms`,
    );
    for (const name of workspaces) {
      const running = (await m.liveTasks(name)).filter((t) => t.Status.State === 'running');
      assert.equal(running.length, 1, `${name}: one running task`);
      assert.equal(running[0]!.NodeID, cluster!.managerId);
      assert.equal((await view(name)).state, 'running');
    }
    const services = await m.services();
    assert.deepEqual(
      services.map((s) => s.Spec?.Labels?.['bucketspace.workspace']).sort(),
      [...workspaces].sort(),
    );
  });
});
