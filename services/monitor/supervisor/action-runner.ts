import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import pLimit from 'p-limit';
import { sleep, type Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { isBucketspaceError } from '../../common/errors.ts';
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
import type { ContainerRuntime, ManagedContainer, ManagedVolume } from '../containers/types.ts';
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
}

export interface ActionRunnerOptions {
  runtime: ContainerRuntime;
  clock: Clock;
  logger: Logger;
  containers: ContainerDefaults;
  readyTimeoutMs: number;
  /** Deploys (install + start) at once across workspaces. */
  deployConcurrency: number;
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
        limits: defaults.limits,
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
