import { createHash, randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import { sleep, type Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { BucketspaceError, isBucketspaceError } from '../../common/errors.ts';
import {
  buildContainerSpec,
  dependencyVolumeName,
  type DependencyCache,
  type RuntimeLimits,
} from '../containers/container-spec.ts';
import {
  parseDeployReport,
  REPORT_DIR,
  REPORT_MAX_BYTES,
  type DeployReport,
} from '../containers/deploy-report.ts';
import type {
  ContainerDiskUsage,
  ContainerRuntime,
  HostEngine,
  ManagedContainer,
  ManagedVolume,
} from '../containers/types.ts';
import { firewallProblem, trustedAddresses } from '../isolation/apps-network.ts';
import { buildAppFirewall, type AllowedDestination } from '../isolation/firewall-rules.ts';
import type { IsolationResult } from '../isolation/isolation-schedule.ts';
import type { RuntimeType } from '../types.ts';
import type { DeployAction, RemoveAction } from './actions.ts';
import type { DeployOutcome } from './outcomes.ts';
import { waitReady } from './wait-ready.ts';

/** How the workspace containers are made; the same for every deploy. */
export interface ContainerDefaults {
  /** Value of the managed-by label: one monitor's containers, never another's. */
  managedBy: string;
  network: string;
  images: Record<RuntimeType, string>;
  limits: RuntimeLimits;
  /** The workspaces root as the engine sees it (bind sources). */
  hostRoot: string;
  caBundle?: string | undefined;
  stopTimeoutSeconds: number;
  /** RUNTIME_DISK; undefined: no budget. */
  diskBudgetBytes?: number | undefined;
}

/** The apps firewall (RUNTIME_ISOLATION=firewall, decision 0055). */
export interface FirewallSettings {
  /** The image of the one-shot container that applies the rules (RUNTIME_FIREWALL_IMAGE). */
  image: string;
  /** Private destinations apps may reach all the same (RUNTIME_NETWORK_ALLOW). */
  allow: readonly AllowedDestination[];
}

export interface ActionRunnerOptions {
  runtime: ContainerRuntime;
  /**
   * The host's own engine, for the apps firewall and the disk budget; none
   * on a swarm, where the monitor runs neither (RUNTIME_ISOLATION and
   * RUNTIME_DISK are off there).
   */
  host?: HostEngine | undefined;
  clock: Clock;
  logger: Logger;
  containers: ContainerDefaults;
  readyTimeoutMs: number;
  /** Deploys (install + start) at once across workspaces. */
  deployConcurrency: number;
  /** This process's IPv4 addresses (default: its network interfaces'). */
  localAddresses?: () => string[];
}

/** The IPv4 addresses of this process's network interfaces. */
function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => a.family === 'IPv4')
    .map((a) => a.address);
}

/** Progress of one deploy, for the dashboard to follow. */
export interface DeployProgress {
  /** The deploy got its turn and the image is there; the container is about to start. */
  onStarting(): void;
  onCreated(id: string, dependencyKey: string | undefined): void;
}

/** What one pass sees of the engine. */
export interface EngineView {
  containers: ManagedContainer[];
  volumes: ManagedVolume[];
}

/**
 * Carries out the supervisor's actions on the container runtime, and reports
 * what happened; it decides nothing. The only part of the supervisor that
 * talks to the runtime.
 */
export class ActionRunner {
  readonly #o: ActionRunnerOptions;
  readonly #runtime: ContainerRuntime;
  readonly #log: Logger;
  readonly #deploys: ReturnType<typeof pLimit>;
  #networkReady = false;
  /** Whether the engine limits the writable layer here (found out at the first deploy). */
  #writableLimit: Promise<number | undefined> | undefined;

  constructor(options: ActionRunnerOptions) {
    this.#o = options;
    this.#runtime = options.runtime;
    this.#log = options.logger;
    this.#deploys = pLimit(options.deployConcurrency);
  }

  /** Every container and dependency cache of this monitor (creating its network the first time). */
  async observe(): Promise<EngineView> {
    const { network, managedBy } = this.#o.containers;
    if (!this.#networkReady) {
      await this.#runtime.ensureNetwork(network, { 'bucketspace.managed-by': managedBy });
      this.#networkReady = true;
    }
    const [containers, volumes] = await Promise.all([
      this.#runtime.list(managedBy),
      this.#runtime.listVolumes(managedBy),
    ]);
    return { containers, volumes };
  }

  /**
   * Put the apps firewall in place for the monitor's network: its facts
   * (bridge, subnets, the monitor's own addresses there) and the rules are
   * pure (isolation/); a one-shot container of `firewall.image` in the
   * host's network namespace, with NET_ADMIN and NET_RAW only, applies them.
   */
  async applyFirewall(firewall: FirewallSettings): Promise<IsolationResult> {
    const { network, managedBy } = this.#o.containers;
    const net = await this.#host('the apps firewall').inspectNetwork(network);
    if (net === undefined) return { ok: false, reason: `network ${network} does not exist` };
    const problem = firewallProblem(net);
    if (problem !== undefined || net.bridge === null) {
      return { ok: false, reason: problem ?? `network ${network} has no bridge` };
    }
    if ((await this.#runtime.imageId(firewall.image)) === undefined) {
      return {
        ok: false,
        reason:
          `the firewall image ${firewall.image} is missing: build it ` +
          '(scripts/build-local-images.sh apps-firewall, or docker compose build) or set RUNTIME_FIREWALL_IMAGE',
      };
    }
    const trusted = trustedAddresses(net, (this.#o.localAddresses ?? interfaceAddresses)());
    const rules = buildAppFirewall({ network, bridge: net.bridge, trusted, allow: firewall.allow });
    const { forward, input } = rules.chains;
    const result = await this.#host('the apps firewall').runTask({
      name: `bucketspace-apps-firewall-${managedBy}`,
      image: firewall.image,
      cmd: ['apply'],
      env: {
        FIREWALL_CHAINS: `${forward} ${input}`,
        FIREWALL_RULES: rules.restore,
        FIREWALL_JUMPS: rules.jumps.join('\n'),
      },
      labels: { 'bucketspace.task': 'apps-firewall', 'bucketspace.task-of': managedBy },
      hostNetwork: true,
      capAdd: ['NET_ADMIN', 'NET_RAW'],
    });
    this.#log.debug({ network, lines: result.lines }, 'apps firewall output');
    if (result.exitCode !== 0) {
      const said = result.lines.filter((l) => l.startsWith('apps-firewall: error: ')).at(-1);
      const why = (said ?? result.lines.at(-1) ?? '').replace(/^apps-firewall: error: /, '');
      return {
        ok: false,
        reason: `the firewall container exited with code ${result.exitCode}${why === '' ? '' : `: ${why}`}`,
      };
    }
    return {
      ok: true,
      summary:
        `chains ${forward} and ${input} for bridge ${net.bridge}` +
        (trusted.length === 0 ? '' : `; the monitor at ${trusted.join(', ')}`),
    };
  }

  /**
   * Start a container for the action's version, wait until it answers on its
   * port, and read its report. A container that fails is removed after its
   * logs are read; so is one started when the signal aborts, and one whose
   * report cannot be read.
   */
  deploy(
    action: DeployAction,
    signal: AbortSignal,
    progress: DeployProgress,
  ): Promise<DeployOutcome> {
    return this.#deploys(async (): Promise<DeployOutcome> => {
      if (signal.aborted) return { kind: 'aborted' };
      const { plan, snapshot, workspace } = action;
      const defaults = this.#o.containers;
      const image = defaults.images[plan.type];
      const imageId = await this.#runtime.imageId(image);
      if (imageId === undefined) return { kind: 'image-missing', image };
      const cache = this.#dependencyCache(action, imageId);
      this.#writableLimit ??= this.#probeWritableLimit(image).catch((err: unknown) => {
        this.#writableLimit = undefined; // an engine error: find out at the next deploy
        throw err;
      });
      const writableBytes = await this.#writableLimit;
      progress.onStarting();
      this.#log.info({ workspace, why: action.why, type: plan.type }, 'deploying');
      const spec = buildContainerSpec({
        workspace,
        hostDir: path.join(defaults.hostRoot, workspace),
        plan,
        fingerprint: snapshot.fingerprint,
        images: defaults.images,
        network: defaults.network,
        managedBy: defaults.managedBy,
        limits: { ...defaults.limits, writableBytes },
        caBundle: defaults.caBundle,
        stopTimeoutSeconds: defaults.stopTimeoutSeconds,
        suffix: randomBytes(3).toString('hex'),
        dependencyCache: cache,
      });
      const fresh = await this.#runtime.run(spec);
      progress.onCreated(fresh.id, cache?.key);
      let latest = fresh;
      const outcome = await waitReady({
        port: plan.port,
        timeoutMs: this.#o.readyTimeoutMs,
        signal,
        clock: this.#o.clock,
        host: async () => {
          latest = (await this.#runtime.inspect(fresh.id)) ?? {
            ...latest,
            status: 'dead',
            ip: null,
          };
          return { ip: latest.ip, running: latest.status === 'running' };
        },
      });
      if (outcome.ready) {
        try {
          return { kind: 'ready', container: latest, report: await this.readReport(fresh.id) };
        } catch (err) {
          await this.retire(fresh);
          throw err;
        }
      }
      if (outcome.why === 'aborted') {
        await this.retire(fresh);
        return { kind: 'aborted' };
      }
      const last = await this.#lastWords(fresh.id);
      await this.retire(fresh);
      return { kind: 'failed', why: outcome.why, ...last };
    });
  }

  /** The serving container stopped: its exit code and last lines, then it goes. */
  async collectCrash(
    container: ManagedContainer,
  ): Promise<{ exitCode: number | null; lastLogLines: string[] }> {
    const last = await this.#lastWords(container.id);
    await this.retire(container);
    return last;
  }

  /** What the container's entrypoint reported of its start; undefined when it wrote no report. */
  async readReport(id: string): Promise<DeployReport | undefined> {
    const files = await this.#runtime.readDirectory(id, REPORT_DIR, REPORT_MAX_BYTES);
    return files === undefined ? undefined : parseDeployReport(files);
  }

  /**
   * Remove the action's containers, after its drain time (aborted by the
   * signal: at once), then its volumes; a volume still in use stays for a
   * later pass.
   */
  async remove(action: RemoveAction, signal: AbortSignal): Promise<void> {
    if (action.afterMs > 0) await sleep(this.#o.clock, action.afterMs, signal);
    for (const c of action.containers) {
      this.#log.info(
        { workspace: action.workspace, container: c.name, why: action.why },
        'removing container',
      );
      await this.retire(c);
    }
    for (const volume of action.volumes) {
      try {
        await this.#runtime.removeVolume(volume);
        this.#log.info({ workspace: action.workspace, volume, why: action.why }, 'removed volume');
      } catch (err) {
        if (!isBucketspaceError(err, 'CONFLICT')) throw err;
        this.#log.debug({ workspace: action.workspace, volume }, 'volume still in use; kept');
      }
    }
  }

  /** Disk use of every running container of this monitor. */
  diskUsage(): Promise<ContainerDiskUsage[]> {
    return this.#host('the disk budget').diskUsage(this.#o.containers.managedBy);
  }

  /** Stop a container (SIGTERM, then SIGKILL after the stop timeout); what follows is a crash or a failed start. */
  stop(id: string): Promise<void> {
    return this.#runtime.stop(id, this.#o.containers.stopTimeoutSeconds);
  }

  async retire(container: ManagedContainer): Promise<void> {
    if (container.status === 'running') {
      await this.#runtime.stop(container.id, this.#o.containers.stopTimeoutSeconds);
    }
    await this.#runtime.remove(container.id);
  }

  logs(id: string, tail: number): Promise<string[]> {
    return this.#runtime.logs(id, tail);
  }

  followLogs(id: string, signal: AbortSignal): AsyncIterable<string> {
    return this.#runtime.followLogs(id, signal);
  }

  /**
   * The writable-layer limit to give containers: the disk budget where the
   * engine enforces one (tried once, with the first image deployed), else
   * none and the budget is the watchdog's alone.
   */
  async #probeWritableLimit(image: string): Promise<number | undefined> {
    const budget = this.#o.containers.diskBudgetBytes;
    if (budget === undefined) return undefined;
    const probe = await this.#host('the disk budget').probeWritableLimit(image, budget);
    if (probe.ok) {
      this.#log.info(
        { budgetBytes: budget },
        'disk budget: the storage driver limits each container (writes past it fail), and the monitor checks the total',
      );
      return budget;
    }
    this.#log.info(
      { budgetBytes: budget, why: probe.reason },
      'disk budget: the storage driver cannot limit containers here; the monitor checks their disk use and stops any over it',
    );
    return undefined;
  }

  /** The host's engine, which `what` needs. */
  #host(what: string): HostEngine {
    const host = this.#o.host;
    if (host === undefined) {
      throw new BucketspaceError(
        'CONFIG_INVALID',
        `${what} needs the Docker engine of this host (RUNTIME_ENGINE=docker); on a swarm set RUNTIME_ISOLATION=off and RUNTIME_DISK=off`,
      );
    }
    return host;
  }

  /** The deploy's dependency cache: keyed on its dependency files and the image it runs. */
  #dependencyCache(action: DeployAction, imageId: string): DependencyCache | undefined {
    const deps = action.dependencies;
    if (deps.kind !== 'cached') return undefined;
    const key = createHash('sha256')
      .update(`${deps.digest}\0${imageId}`)
      .digest('hex')
      .slice(0, 32);
    return {
      volume: dependencyVolumeName(this.#o.containers.managedBy, action.workspace, key),
      dir: deps.dir,
      key,
      env: deps.env,
    };
  }

  async #lastWords(id: string): Promise<{ exitCode: number | null; lastLogLines: string[] }> {
    const lastLogLines = await this.#runtime.logs(id, 30).catch(() => []);
    const inspected = await this.#runtime.inspect(id);
    return { exitCode: inspected?.exitCode ?? null, lastLogLines };
  }
}
