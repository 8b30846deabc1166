// The monitor with RUNTIME_ENGINE=swarm on a swarm of two nodes: this machine's Docker
// engine made the manager (and left as it was found), a second engine in a network
// namespace joined as a worker, the runtime image copied to it with `docker save | load`
// (no registry). Run by `npm run test:swarm` (CI runs it after `npm test`).
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { docker } from './support/docker-cli.ts';
import { ensureImages, imageRef } from './support/images.ts';
import { writeNodeApp } from './support/node-app.ts';
import { SwarmCluster, type WorkerNode } from './support/swarm-cluster.ts';
import { SwarmMonitor } from './support/swarm-monitor.ts';
import { eventually } from './support/watch-process.ts';

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
