import { chmod, chown, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import type Docker from 'dockerode';
import { startCliProcess, type CliProcess } from './cli-process.ts';
import { docker as engine } from './docker.ts';
import { docker } from './docker-cli.ts';
import { imageRef } from './images.ts';
import type { SwarmCluster } from './swarm-cluster.ts';
import { TestMonitor } from './test-monitor.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** Ports the monitor listens on inside its container (published on loopback). */
const APPS_PORT = 8080;
const ADMIN_PORT = 8081;

/** The fields of a task the tests read. */
export interface TaskInfo {
  ID: string;
  NodeID: string;
  DesiredState: string;
  Status: { State: string };
}

/**
 * `bucketspace monitor` with RUNTIME_ENGINE=swarm, as the stack runs it: in a
 * container of the control-plane image attached to the attachable overlay
 * network it shares with the workspace tasks (the only way to reach their
 * addresses), on the manager's Docker socket, as uid 10001. This checkout's
 * code is mounted over the image's, so the test runs the code under test.
 */
export class SwarmMonitor extends TestMonitor {
  readonly container: string;
  /** The swarm it runs on: left, as the engine was found, when the monitor closes. */
  cluster: SwarmCluster | undefined;

  constructor(extraEnv: () => Record<string, string> = () => ({})) {
    // As deploy/swarm-stack.yml: the firewall and the disk budget are the Docker engine's.
    super(() => ({
      RUNTIME_ENGINE: 'swarm',
      RUNTIME_ISOLATION: 'off',
      RUNTIME_DISK: 'off',
      ...extraEnv(),
    }));
    this.container = `${this.managedBy}-monitor`;
  }

  /** The services of this monitor's workspaces (all of them, or of one workspace). */
  async services(workspace?: string): Promise<Docker.Service[]> {
    const label = [`bucketspace.managed-by=${this.managedBy}`];
    if (workspace !== undefined) label.push(`bucketspace.workspace=${workspace}`);
    return engine.listServices({ filters: { label } });
  }

  /** The workspace's service (there must be exactly one). */
  async serviceOf(workspace: string): Promise<Docker.Service> {
    const found = await this.services(workspace);
    assert.equal(found.length, 1, `one service for ${workspace}, found ${found.length}`);
    return found[0]!;
  }

  /** The tasks of a workspace that Swarm means to run. */
  async liveTasks(workspace: string): Promise<TaskInfo[]> {
    const service = await this.serviceOf(workspace);
    const tasks = (await engine.listTasks({
      filters: { service: [service.ID], 'desired-state': ['running'] },
    })) as TaskInfo[];
    return tasks.filter((t) => t.DesiredState === 'running');
  }

  /** The node of the workspace's one running task. */
  async nodeOf(workspace: string): Promise<string> {
    const tasks = (await this.liveTasks(workspace)).filter((t) => t.Status.State === 'running');
    assert.equal(tasks.length, 1, `${workspace} runs one task`);
    return tasks[0]!.NodeID;
  }

  /** The overlay network, as the stack file declares it: made before the monitor joins it. */
  async createNetwork(): Promise<void> {
    await docker([
      'network',
      'create',
      '--driver',
      'overlay',
      '--attachable',
      '--label',
      `bucketspace.managed-by=${this.managedBy}`,
      this.network,
    ]);
  }

  override async init(): Promise<void> {
    await super.init();
    // The monitor runs as uid 10001: it reads the workspaces and keeps its state.
    await chmod(this.root, 0o755);
    await mkdir(path.join(this.root, 'data'), { recursive: true });
    await chown(path.join(this.root, 'data'), 10001, 10001);
  }

  protected override async launch(
    env: Record<string, string>,
  ): Promise<{ proc: CliProcess; base: string; admin: string }> {
    const inContainer: Record<string, string> = {
      ...env,
      MONITOR_PORT: String(APPS_PORT),
      MONITOR_HOST: '0.0.0.0',
      MONITOR_ADMIN_PORT: String(ADMIN_PORT),
      MONITOR_ADMIN_HOST: '0.0.0.0',
      MONITOR_MOUNTS: 'false',
    };
    delete inContainer.MOUNT_REGISTRY;
    delete inContainer.MOUNT_DIR;
    const argv = [
      'run',
      '--rm',
      '--name',
      this.container,
      '--user',
      '0',
      '--network',
      this.network,
      '--publish',
      `127.0.0.1::${APPS_PORT}`,
      '--publish',
      `127.0.0.1::${ADMIN_PORT}`,
      '--volume',
      '/var/run/docker.sock:/var/run/docker.sock',
      '--volume',
      `${REPO}:/opt/bucketspace:ro`,
      '--volume',
      `${this.root}:${this.root}`,
      ...Object.entries(inContainer).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
      imageRef('control-plane'),
      'monitor',
    ];
    const proc = await startCliProcess({
      args: ['monitor'],
      env: {},
      command: { file: 'docker', argv },
      signal: (signal) => void docker(['kill', '--signal', signal, this.container]).catch(() => {}),
      readyMessage: 'started monitor',
      readyTimeoutMs: 90_000,
    });
    const published = async (port: number) =>
      (await docker(['port', this.container, `${port}/tcp`])).trim().split('\n')[0] ?? '';
    return {
      proc,
      base: `http://${await published(APPS_PORT)}`,
      admin: `http://${await published(ADMIN_PORT)}`,
    };
  }

  override async close(): Promise<void> {
    try {
      await super.close();
    } finally {
      await this.cluster?.leave();
    }
  }

  /** Its services, their dependency caches on this node, its network. */
  protected override async cleanup(): Promise<void> {
    await docker(['rm', '--force', this.container]).catch(() => undefined);
    const label = `label=bucketspace.managed-by=${this.managedBy}`;
    const services = (await docker(['service', 'ls', '-q', '--filter', label]).catch(() => ''))
      .split('\n')
      .filter((s) => s !== '');
    if (services.length > 0) await docker(['service', 'rm', ...services]).catch(() => undefined);
    // Tasks stop with their grace period before the network and volumes can go.
    for (let i = 0; i < 120; i++) {
      const left = await docker(['ps', '-aq', '--filter', label]).catch(() => '');
      if (left.trim() === '') break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const volumes = (await docker(['volume', 'ls', '-q', '--filter', label]).catch(() => ''))
      .split('\n')
      .filter((v) => v !== '');
    if (volumes.length > 0) await docker(['volume', 'rm', ...volumes]).catch(() => undefined);
    await docker(['network', 'rm', this.network]).catch(() => undefined);
  }
}
