// deploy/swarm-stack.yml deployed for real with `docker stack deploy`, on a swarm of two
// nodes (this machine's engine as the manager, a second engine in a network namespace
// as the worker), each node with the bucket mounted by deploy/swarm-node-mount.yml in
// its own mount namespace, exactly as README "From one server to three" tells a user.
// Only the S3 server's image is replaced (test/e2e/swarm-stack.s3rver.yml: s3rver,
// since MinIO's image cannot be pulled here); every other service runs the images
// built from this checkout. Runs alone (test/alone/): swarm mode changes the engine.
import assert from 'node:assert/strict';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, REPO } from '../support/compose-stack.ts';
import { CleanupSteps } from '../support/cleanup-steps.ts';
import { docker } from '../support/docker-cli.ts';
import { docker as engine } from '../support/docker.ts';
import { buildTargets, ensureImages, imageRef } from '../support/images.ts';
import { run, SwarmCluster, type WorkerNode } from '../support/swarm-cluster.ts';
import { eventually } from '../support/watch-process.ts';

const STACK_FILE = path.join(REPO, 'deploy/swarm-stack.yml');
const S3_STANDIN = path.join(REPO, 'test/e2e/swarm-stack.s3rver.yml');
const NODE_MOUNT_FILE = path.join(REPO, 'deploy/swarm-node-mount.yml');

interface WorkspaceView {
  name: string;
  state: string;
  message?: string | null;
}

describe(
  'deploy/swarm-stack.yml with docker stack deploy (two nodes, a mount on each)',
  {
    timeout: 900_000,
  },
  () => {
    const id = randomBytes(3).toString('hex');
    const stack = `bss${id}`;
    const mountProject = `${stack}-mount`;
    const mountRoot = path.join(tmpdir(), `bss-${id}`, 'mnt');
    const env: Record<string, string> = {
      BUCKETSPACE_REPO: REPO,
      BUCKETSPACE_MOUNT_ROOT: mountRoot,
      MINIO_ROOT_USER: `stack-${id}`,
      MINIO_ROOT_PASSWORD: randomBytes(16).toString('hex'),
      MONITOR_TOKEN: randomBytes(16).toString('hex'),
      MONITOR_NETWORK: `${stack}-apps`,
      MONITOR_INSTANCE: stack,
    };
    let cluster: SwarmCluster | undefined;
    let worker: WorkerNode;
    let s3: S3Client;
    let apps = '';
    /** Tests of this suite, and how many passed (the monitor's log is kept when one failed). */
    const TESTS = 2;
    let passed = 0;
    let admin = '';

    /** A command with the stack's settings in its environment, as `set -a; . ./.env` gives. */
    const withEnv = (command: string[], extra: Record<string, string> = {}) =>
      run('env', [
        ...Object.entries({ ...env, ...extra }).map(([k, v]) => `${k}=${v}`),
        ...command,
      ]);
    const put = (key: string, body: string) =>
      s3.send(new PutObjectCommand({ Bucket: 'workspaces', Key: key, Body: body }));
    const page = async (workspace: string) => {
      const res = await fetch(`${apps}/${workspace}/`, { signal: AbortSignal.timeout(5_000) });
      return `${res.status} ${await res.text()}`;
    };
    const workspaces = async (): Promise<WorkspaceView[]> => {
      const res = await fetch(`${admin}/api/workspaces`, {
        headers: { authorization: `Bearer ${env.MONITOR_TOKEN}` },
      });
      assert.equal(res.status, 200);
      return ((await res.json()) as { workspaces: WorkspaceView[] }).workspaces;
    };
    /** The host name of the node the workspace's one running task is on. */
    const nodeOf = async (workspace: string): Promise<string> => {
      const tasks = (await engine.listTasks({
        filters: { service: [`${stack}-${workspace}`] },
      })) as { NodeID: string; DesiredState: string; Status: { State: string; Err?: string } }[];
      const running = tasks.filter(
        (t) => t.DesiredState === 'running' && t.Status.State === 'running',
      );
      assert.equal(running.length, 1, `${workspace}: one running task of ${JSON.stringify(tasks)}`);
      return (await cluster!.nodeNames()).get(running[0]!.NodeID)!;
    };
    /** The FUSE mounts at the mount root's `workspaces`, as a node sees them. */
    const fuseMounts = (mountinfo: string) =>
      mountinfo
        .split('\n')
        .filter((l) => l.split(' ')[4] === path.join(mountRoot, 'workspaces'))
        .filter((l) => / - fuse\.rclone /.test(l));
    /** The documented per-node step: the mount root a shared mount. */
    const sharedMountRoot = [
      'sh',
      '-c',
      `mkdir -p ${mountRoot} && mount --bind ${mountRoot} ${mountRoot} && mount --make-rshared ${mountRoot}`,
    ];
    const nodeMount = (action: string[]) => [
      'docker',
      'compose',
      '-f',
      NODE_MOUNT_FILE,
      '-p',
      mountProject,
      ...action,
    ];

    before(async () => {
      await ensureImages(['control-plane', 'runtime-static', 'mount-rclone']);
      await buildTargets(['base-node']);
      env.MINIO_API_PORT = String(await freePort());
      env.MONITOR_PORT = String(await freePort());
      env.MONITOR_ADMIN_PORT = String(await freePort());
      apps = `http://127.0.0.1:${env.MONITOR_PORT}`;
      admin = `http://127.0.0.1:${env.MONITOR_ADMIN_PORT}`;
      s3 = new S3Client({
        endpoint: `http://127.0.0.1:${env.MINIO_API_PORT}`,
        region: 'us-east-1',
        credentials: {
          accessKeyId: env.MINIO_ROOT_USER!,
          secretAccessKey: env.MINIO_ROOT_PASSWORD!,
        },
        forcePathStyle: true,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });

      // 1. The swarm: this engine the manager, a second engine joined as a worker.
      cluster = await SwarmCluster.init();
      worker = await cluster.addWorker();
      // 2. Images on every node (no registry here: docker save | docker load).
      await worker.loadImages([imageRef('runtime-static'), imageRef('mount-rclone')]);
      // 3. The bucket mounted on each node, in each node's own mount namespace.
      await mkdir(mountRoot, { recursive: true });
      await run(sharedMountRoot[0]!, sharedMountRoot.slice(1));
      await worker.onNode(sharedMountRoot);
      // The S3 API every node reaches: the labelled node's address (the manager).
      const mountEnv = { S3_ENDPOINT: `http://${cluster.managerAddress}:${env.MINIO_API_PORT}` };
      await withEnv(nodeMount(['up', '-d']), mountEnv);
      await worker.onNode(
        ['env', ...Object.entries({ ...env, ...mountEnv }).map(([k, v]) => `${k}=${v}`)].concat(
          nodeMount(['up', '-d']),
        ),
      );
      // 4. The stack: the S3 server's node labelled, then `docker stack deploy`.
      await docker(['node', 'update', '--label-add', 'bucketspace.s3=true', cluster.managerId]);
      await withEnv(['docker', 'stack', 'deploy', '-c', STACK_FILE, '-c', S3_STANDIN, stack]);
    });

    after(async () => {
      const steps = new CleanupSteps();
      const attempt = steps.attempt.bind(steps);
      const label = `label=bucketspace.managed-by=${stack}`;
      if (passed < TESTS) {
        await attempt('keep the monitor log', async () => {
          const log = await run('sh', ['-c', `docker service logs --raw ${stack}_monitor 2>&1`]);
          const file = path.join(tmpdir(), `${stack}-monitor.log`);
          await writeFile(file, log);
          console.error(`swarm stack: a test failed; the monitor's log is in ${file}`);
        });
      }
      await attempt('remove the workspace services', async () => {
        const ids = (await docker(['service', 'ls', '-q', '--filter', label])).split('\n');
        const services = ids.filter((s) => s !== '');
        if (services.length > 0) await docker(['service', 'rm', ...services]);
      });
      await attempt('docker stack rm', () => docker(['stack', 'rm', stack]));
      const mountEnv = { S3_ENDPOINT: 'http://unused:9000' };
      await attempt('the manager mount down', () => withEnv(nodeMount(['down', '-v']), mountEnv));
      // The stack's containers stop within their grace period; then its volumes can go.
      await eventually(
        'the stack containers gone',
        async () =>
          (
            await docker(['ps', '-aq', '--filter', `label=com.docker.stack.namespace=${stack}`])
          ).trim() === '' && (await docker(['ps', '-aq', '--filter', label])).trim() === '',
        60_000,
      ).catch((err: Error) => steps.problems.push(err.message));
      await attempt('remove the stack volumes', async () => {
        const volumes = (
          await docker([
            'volume',
            'ls',
            '-q',
            '--filter',
            `label=com.docker.stack.namespace=${stack}`,
          ])
        )
          .split('\n')
          .filter((v) => v !== '');
        if (volumes.length > 0) await docker(['volume', 'rm', ...volumes]);
      });
      await run('umount', ['-l', path.join(mountRoot, 'workspaces')]).catch(() => undefined);
      await run('umount', ['-l', mountRoot]).catch(() => undefined);
      // Leaving takes the worker (and its namespaces, its mount with them) down.
      await attempt('leave the swarm', async () => cluster?.leave());
      await rm(path.dirname(mountRoot), { recursive: true, force: true });
      steps.throwIfAny('cleanup');
    });

    test('the stack comes up: S3 pinned to the labelled node, the bucket made, the monitor healthy on the manager', async () => {
      await eventually(
        'the monitor answers',
        async () => (await fetch(`${admin}/healthz`)).ok,
        240_000,
      );
      await eventually(
        'the bucket job done',
        async () =>
          (
            await docker(['service', 'ps', `${stack}_bucket`, '--format', '{{.CurrentState}}'])
          ).includes('Complete'),
        120_000,
      );
      const nodeOfService = async (service: string) =>
        (
          await docker([
            'service',
            'ps',
            `${stack}_${service}`,
            '--filter',
            'desired-state=running',
            '--format',
            '{{.Node}}',
          ])
        ).trim();
      const manager = (await cluster!.nodeNames()).get(cluster!.managerId);
      assert.equal(await nodeOfService('minio'), manager);
      assert.equal(await nodeOfService('monitor'), manager);
      // Each node has the bucket mounted by its own rclone, in its own mount namespace.
      assert.equal(fuseMounts(await run('cat', ['/proc/self/mountinfo'])).length, 1, 'manager');
      assert.equal(
        fuseMounts(await worker.onNode(['cat', '/proc/1/mountinfo'])).length,
        1,
        'worker',
      );
      assert.deepEqual(await workspaces(), []);
      passed++;
    });

    test('a workspace on each node serves from its own node, read through that node mount', async () => {
      // New tasks go to the one node that is not paused.
      const whilePaused = async (node: string, fn: () => Promise<void>) => {
        await docker(['node', 'update', '--availability', 'pause', node]);
        try {
          await fn();
        } finally {
          await docker(['node', 'update', '--availability', 'active', node]);
        }
      };
      /** Put the page into the bucket and wait until the workspace serves it. */
      const publish = async (workspace: string, text: string) => {
        await put(`${workspace}/index.html`, `<p>${text}</p>`);
        await eventually(
          `${workspace}: ${text}`,
          async () => (await page(workspace)).includes(text),
          180_000,
        );
      };
      await whilePaused(cluster!.managerId, async () => {
        await publish('on-worker', 'from the worker v1');
        // An edit in the bucket reaches the worker's task through the worker's own mount
        // (the rollout stays there: the manager takes no new task). v1 -> v2 keeps the size: a
        // mount caching content (`full`) served such an edit stale for minutes, now and then.
        await publish('on-worker', 'from the worker v2');
      });
      await whilePaused(worker.nodeId, () => publish('on-manager', 'from the manager v1'));
      const names = await cluster!.nodeNames();
      assert.equal(await nodeOf('on-worker'), worker.hostname);
      assert.equal(await nodeOf('on-manager'), names.get(cluster!.managerId));
      assert.deepEqual((await workspaces()).map((w) => [w.name, w.state]).sort(), [
        ['on-manager', 'running'],
        ['on-worker', 'running'],
      ]);
      passed++;
    });
  },
);
