import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pLimit from 'p-limit';
import { sleep, type Clock } from '../../common/clock.ts';
import type { Logger } from '../../common/logger.ts';
import { buildContainerSpec, type RuntimeLimits } from '../containers/container-spec.ts';
import type { ContainerRuntime, ManagedContainer } from '../containers/types.ts';
import type { RuntimeType } from '../types.ts';
import type { Action, DeployAction } from './actions.ts';
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
  onCreated(id: string): void;
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

  /** Every container of this monitor (creating its network the first time). */
  async observe(): Promise<ManagedContainer[]> {
    const { network, managedBy } = this.#o.containers;
    if (!this.#networkReady) {
      await this.#runtime.ensureNetwork(network, { 'bucketspace.managed-by': managedBy });
      this.#networkReady = true;
    }
    return this.#runtime.list(managedBy);
  }

  /**
   * Start a container for the action's version and wait until it answers on
   * its port. A container that fails is removed after its logs are read; so
   * is one started when the signal aborts.
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
      if (!(await this.#runtime.imageExists(image))) return { kind: 'image-missing', image };
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
      });
      const fresh = await this.#runtime.run(spec);
      progress.onCreated(fresh.id);
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
      if (outcome.ready) return { kind: 'ready', container: latest };
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

  /** Remove the action's containers, after its drain time (aborted by the signal: at once). */
  async remove(action: Extract<Action, { type: 'remove' }>, signal: AbortSignal): Promise<void> {
    if (action.afterMs > 0) await sleep(this.#o.clock, action.afterMs, signal);
    for (const c of action.containers) {
      this.#log.info(
        { workspace: action.workspace, container: c.name, why: action.why },
        'removing container',
      );
      await this.retire(c);
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

  async #lastWords(id: string): Promise<{ exitCode: number | null; lastLogLines: string[] }> {
    const lastLogLines = await this.#runtime.logs(id, 30).catch(() => []);
    const inspected = await this.#runtime.inspect(id);
    return { exitCode: inspected?.exitCode ?? null, lastLogLines };
  }
}
