import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CleanupSteps } from './cleanup-steps.ts';
import { docker } from './docker-cli.ts';

/** Run a program; resolves with stdout, rejects with its stderr in the message. */
export function run(file: string, args: string[], stdin?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
    if (stdin !== undefined) child.stdin?.end(stdin);
  });
}

async function swarmState(): Promise<string> {
  return (await docker(['info', '--format', '{{.Swarm.LocalNodeState}}'])).trim();
}

/** A /24 of 10.213.x.0 that no interface here uses yet. */
async function freeSubnet(): Promise<string> {
  const used = await run('ip', ['-4', '-o', 'addr']);
  for (let i = 0; i < 50; i++) {
    const candidate = `10.213.${Math.floor(Math.random() * 250) + 1}`;
    if (!used.includes(`${candidate}.`)) return candidate;
  }
  throw new Error('no free 10.213.x.0/24 subnet for the swarm test');
}

/**
 * This machine's Docker engine as a single-node swarm manager, advertised on
 * a private address (one end of a veth pair to a network namespace where a
 * worker can live), for as long as a test needs it. `init` refuses to touch
 * an engine that is already in a swarm; `leave` puts everything back as it
 * was: the worker gone, the swarm left, the networks and namespace removed.
 */
export class SwarmCluster {
  readonly id = randomBytes(3).toString('hex');
  readonly namespace = `bsw-${this.id}`;
  readonly hostLink = `bsw${this.id}h`;
  readonly nodeLink = `bsw${this.id}n`;
  readonly root = path.join(tmpdir(), `bsw-${this.id}`);
  subnet = '';
  managerId = '';
  #gwbridgeExisted = false;
  #joined = false;
  worker: WorkerNode | undefined;

  get managerAddress(): string {
    return `${this.subnet}.1`;
  }

  /** `dispatcherHeartbeat`: how often nodes report (`docker swarm init --dispatcher-heartbeat`). */
  static async init(options: { dispatcherHeartbeat?: string } = {}): Promise<SwarmCluster> {
    const state = await swarmState();
    if (state !== 'inactive') {
      throw new Error(
        `this Docker engine is already in a swarm (state ${state}) that this test did not create: ` +
          'refusing to touch it; run the swarm tests on an engine outside any swarm',
      );
    }
    const cluster = new SwarmCluster();
    try {
      await cluster.#init(options.dispatcherHeartbeat);
    } catch (err) {
      await cluster.leave();
      throw err;
    }
    return cluster;
  }

  async #init(dispatcherHeartbeat: string | undefined): Promise<void> {
    this.#gwbridgeExisted = (await docker(['network', 'ls', '-q', '-f', 'name=^docker_gwbridge$']))
      .trim()
      .split('\n')
      .some((l) => l !== '');
    this.subnet = await freeSubnet();
    await mkdir(this.root, { recursive: true });
    await run('ip', ['netns', 'add', this.namespace]);
    await run('ip', ['link', 'add', this.hostLink, 'type', 'veth', 'peer', 'name', this.nodeLink]);
    await run('ip', ['link', 'set', this.nodeLink, 'netns', this.namespace]);
    await run('ip', ['addr', 'add', `${this.managerAddress}/24`, 'dev', this.hostLink]);
    await run('ip', ['link', 'set', this.hostLink, 'up']);
    const inNs = (...args: string[]) => run('ip', ['netns', 'exec', this.namespace, ...args]);
    await inNs('ip', 'addr', 'add', `${this.subnet}.2/24`, 'dev', this.nodeLink);
    await inNs('ip', 'link', 'set', this.nodeLink, 'up');
    await inNs('ip', 'link', 'set', 'lo', 'up');
    await docker([
      'swarm',
      'init',
      '--advertise-addr',
      this.managerAddress,
      '--listen-addr',
      `${this.managerAddress}:2377`,
      ...(dispatcherHeartbeat === undefined ? [] : ['--dispatcher-heartbeat', dispatcherHeartbeat]),
    ]);
    this.#joined = true;
    this.managerId = (await docker(['info', '--format', '{{.Swarm.NodeID}}'])).trim();
  }

  /** A second Docker engine in the network namespace, joined as a worker. */
  async addWorker(): Promise<WorkerNode> {
    const token = (await docker(['swarm', 'join-token', '-q', 'worker'])).trim();
    const worker = await WorkerNode.start({
      root: path.join(this.root, 'worker'),
      namespace: this.namespace,
      hostname: `bsw-worker-${this.id}`,
    });
    this.worker = worker;
    await worker.docker([
      'swarm',
      'join',
      '--token',
      token,
      '--advertise-addr',
      `${this.subnet}.2`,
      '--listen-addr',
      `${this.subnet}.2:2377`,
      `${this.managerAddress}:2377`,
    ]);
    worker.nodeId = (await worker.docker(['info', '--format', '{{.Swarm.NodeID}}'])).trim();
    return worker;
  }

  /** Node ID -> hostname, as the manager sees them. */
  async nodeNames(): Promise<Map<string, string>> {
    const out = await docker(['node', 'ls', '--format', '{{.ID}} {{.Hostname}}']);
    return new Map(
      out
        .trim()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => l.split(' ') as [string, string]),
    );
  }

  /** Every trace of the cluster gone; the engine out of swarm mode, as it was. */
  async leave(): Promise<void> {
    const steps = new CleanupSteps();
    const attempt = steps.attempt.bind(steps);
    if (this.worker !== undefined) await attempt('stop the worker', () => this.worker!.kill());
    if (this.#joined) {
      await attempt('leave the swarm', () => docker(['swarm', 'leave', '--force']));
      if (!this.#gwbridgeExisted) {
        await attempt('remove docker_gwbridge', () => docker(['network', 'rm', 'docker_gwbridge']));
      }
    }
    await run('ip', ['link', 'del', this.hostLink]).catch(() => undefined);
    await run('ip', ['netns', 'del', this.namespace]).catch(() => undefined);
    await rm(this.root, { recursive: true, force: true }).catch(() => undefined);
    const state = await swarmState();
    if (state !== 'inactive') steps.problems.push(`the engine is still in swarm state ${state}`);
    steps.throwIfAny('swarm cleanup');
  }
}

/**
 * A Docker engine of its own: its own data, exec root, pid file, socket and
 * host name, in the swarm's network namespace, and in PID and mount
 * namespaces of its own so that killing it takes its containers with it,
 * as a machine going down would.
 */
export class WorkerNode {
  readonly socket: string;
  readonly hostname: string;
  nodeId = '';
  readonly #child: ChildProcess;
  readonly #log: string;

  private constructor(child: ChildProcess, socket: string, hostname: string, log: string) {
    this.#child = child;
    this.socket = socket;
    this.hostname = hostname;
    this.#log = log;
  }

  static async start(o: {
    root: string;
    namespace: string;
    hostname: string;
  }): Promise<WorkerNode> {
    await mkdir(o.root, { recursive: true });
    const socket = path.join(o.root, 'docker.sock');
    const log = path.join(o.root, 'dockerd.log');
    const dockerd = [
      'dockerd',
      '--data-root',
      path.join(o.root, 'data'),
      '--exec-root',
      path.join(o.root, 'exec'),
      '--pidfile',
      path.join(o.root, 'dockerd.pid'),
      '-H',
      `unix://${socket}`,
      '--bridge',
      'none',
    ].join(' ');
    const child = spawn(
      'unshare',
      [
        '--mount',
        '--uts',
        '--pid',
        '--fork',
        '--mount-proc',
        'sh',
        '-c',
        `hostname ${o.hostname} && exec nsenter --net=/var/run/netns/${o.namespace} ${dockerd} >${log} 2>&1`,
      ],
      { stdio: 'ignore' },
    );
    const node = new WorkerNode(child, socket, o.hostname, log);
    for (let i = 0; i < 120; i++) {
      if (child.exitCode !== null) break;
      if (
        await node.docker(['version', '--format', '{{.Server.Version}}']).then(
          () => true,
          () => false,
        )
      ) {
        return node;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const tail = await readFile(log, 'utf8').catch(() => '');
    await node.kill();
    throw new Error(
      `the worker's dockerd did not start:\n${tail.split('\n').slice(-15).join('\n')}`,
    );
  }

  docker(args: string[]): Promise<string> {
    return run('docker', ['-H', `unix://${this.socket}`, ...args]);
  }

  /**
   * Run a command on this node, as its administrator would in a shell there:
   * in its mount, network and host-name namespaces (a mount made here is this
   * node's own, unseen by the manager), with DOCKER_HOST at its engine.
   */
  async onNode(command: string[], env: Record<string, string> = {}): Promise<string> {
    const pid = await this.#initPid();
    if (pid === undefined) throw new Error(`the node ${this.hostname} is not running`);
    const vars = Object.entries({ DOCKER_HOST: `unix://${this.socket}`, ...env }).map(
      ([k, v]) => `${k}=${v}`,
    );
    return run('nsenter', ['-t', String(pid), '-m', '-n', '-u', 'env', ...vars, ...command]);
  }

  /** The first process in the node's namespaces (its dockerd), if it runs. */
  async #initPid(): Promise<number | undefined> {
    const pid = this.#child.pid;
    if (pid === undefined || this.#child.exitCode !== null || this.#child.signalCode !== null) {
      return undefined;
    }
    const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
    const init = Number(children.trim().split(/\s+/)[0]);
    return Number.isInteger(init) && init > 0 ? init : undefined;
  }

  /** Copy images from this machine's engine (`docker save | docker load`), as with no registry. */
  async loadImages(images: string[]): Promise<void> {
    await run('sh', [
      '-c',
      `docker save ${images.join(' ')} | docker -H unix://${this.socket} load -q`,
    ]);
  }

  /** Kill the engine and everything in its namespaces at once (the node goes down). */
  async kill(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const init = await this.#initPid();
    const exited = new Promise((r) => this.#child.once('exit', r));
    if (init !== undefined) process.kill(init, 'SIGKILL');
    else this.#child.kill('SIGKILL');
    await exited;
  }

  async logTail(lines = 20): Promise<string> {
    return (await readFile(this.#log, 'utf8').catch(() => '')).split('\n').slice(-lines).join('\n');
  }
}
