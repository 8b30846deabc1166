import Docker from 'dockerode';
import { sleep, systemClock, type Clock } from '../../common/clock.ts';
import { BucketspaceError, isBucketspaceError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { classifyDockerError } from '../containers/docker-errors.ts';
import type { DockerConnection } from '../containers/docker-host.ts';
import { demuxLog, demuxStream } from '../containers/docker-log.ts';
import { DockerRuntime } from '../containers/docker-runtime.ts';
import {
  LABELS,
  type ContainerRuntime,
  type ContainerSpec,
  type ManagedContainer,
  type ManagedVolume,
} from '../containers/types.ts';
import { pinnedImage, repositoryOf } from './image-reference.ts';
import { isLive, parseRevisionId, revisionsOf, startProgress, type Revision } from './revisions.ts';
import { buildServiceSpec, type SwarmPlacement } from './service-spec.ts';
import { REVISION_LABEL, type SwarmService, type SwarmTask } from './types.ts';

export interface SwarmRuntimeOptions {
  /** A manager of the swarm. */
  connection: DockerConnection;
  logger: Logger;
  clock?: Clock;
  /** The attachable overlay network the monitor shares with the tasks (MONITOR_NETWORK). */
  network: string;
  placement: SwarmPlacement;
  /** How long a deploy may take to get a task started, and its app to pass its health check. */
  readyTimeoutMs: number;
  /** How often a task's health check connects to its port. */
  healthIntervalMs: number;
  /** Per-request timeout for engine calls (not for log streams). */
  timeoutMs?: number;
}

/** How often a deploy looks at its new tasks while they get scheduled and started. */
const START_POLL_MS = 250;

/**
 * ContainerRuntime on a Docker Swarm, through a manager's Engine API: one
 * service per workspace, each deploy a new revision of it rolled out
 * start-first (decision 0060). A "container" of the supervisor is a
 * revision (revisions.ts); the engine-local parts (volumes, a task's files)
 * go through a DockerRuntime on the same engine.
 */
export class SwarmRuntime implements ContainerRuntime {
  readonly #docker: Docker;
  readonly #local: DockerRuntime;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #o: SwarmRuntimeOptions;
  #nodeId: string | undefined;
  readonly #nodeNames = new Map<string, string>();

  constructor(options: SwarmRuntimeOptions) {
    this.#o = options;
    this.#docker = new Docker({ ...options.connection, timeout: options.timeoutMs ?? 30_000 });
    this.#local = new DockerRuntime({
      connection: options.connection,
      logger: options.logger,
      timeoutMs: options.timeoutMs,
    });
    this.#log = options.logger;
    this.#clock = options.clock ?? systemClock;
  }

  async ping(): Promise<void> {
    await this.#localNode();
  }

  /** The attachable overlay network; an existing network of that name must be one. */
  async ensureNetwork(name: string, labels: Record<string, string>): Promise<void> {
    try {
      const found = (await this.#docker.listNetworks({ filters: { name: [name] } })).find(
        (n) => n.Name === name,
      );
      if (found !== undefined) {
        if (found.Driver === 'overlay' && found.Attachable) return;
        throw new BucketspaceError(
          'CONFIG_INVALID',
          `network ${name} is a ${found.Driver}${found.Driver === 'overlay' ? ' (not attachable)' : ''} network: ` +
            'RUNTIME_ENGINE=swarm needs an attachable overlay network that the monitor and the workspaces share; ' +
            `remove it (docker network rm ${name}) or set MONITOR_NETWORK to another name`,
        );
      }
      await this.#docker.createNetwork({
        Name: name,
        Driver: 'overlay',
        Attachable: true,
        Labels: labels,
        CheckDuplicate: true,
      });
      this.#log.info({ network: name }, 'created overlay network');
    } catch (err) {
      const classified = this.#classify(err, `create network ${name}`);
      if (classified.code === 'CONFLICT') return;
      throw classified;
    }
  }

  /** The manager's image ID, else the digest its registry reports; undefined when neither has it. */
  async imageId(image: string): Promise<string | undefined> {
    const local = await this.#local.imageId(image);
    if (local !== undefined) return local;
    return this.#registryDigest(image);
  }

  async list(managedBy: string): Promise<ManagedContainer[]> {
    const services = await this.#services([`${LABELS.managedBy}=${managedBy}`]);
    if (services.length === 0) return [];
    const tasks = await this.#tasks(services.map((s) => s.ID));
    return services.flatMap((service) =>
      revisionsOf(service, tasks, this.#o.network)
        .filter((r) => r.current || r.tasks.some(isLive))
        .map((r) => r.container),
    );
  }

  async inspect(id: string): Promise<ManagedContainer | undefined> {
    return (await this.#revision(id))?.revision.container;
  }

  /**
   * Create the workspace's service, or roll its existing one out to this
   * spec (the new tasks start before the old ones stop), then wait until a
   * task of it has started. A task refused by its node (an image or a bind
   * source missing there) or by the scheduler fails the deploy with the
   * node's name and Swarm's reason; the service is then rolled back (or
   * removed when it is new).
   */
  async run(spec: ContainerSpec): Promise<ManagedContainer> {
    const image = await this.#pin(spec.image);
    const body = buildServiceSpec({
      spec,
      image,
      placement: this.#o.placement,
      startPeriodMs: this.#o.readyTimeoutMs,
      healthIntervalMs: this.#o.healthIntervalMs,
    });
    const managedBy = spec.labels[LABELS.managedBy] ?? '';
    const existing = (
      await this.#rawServices([
        `${LABELS.managedBy}=${managedBy}`,
        `${LABELS.workspace}=${spec.workspace}`,
      ])
    )[0];
    let serviceId: string;
    try {
      if (existing === undefined) {
        serviceId = ((await this.#docker.createService(body)) as unknown as { id: string }).id;
      } else {
        serviceId = existing.ID;
        await this.#update(existing, body);
      }
    } catch (err) {
      throw this.#classify(err, `deploy ${spec.workspace} as a Swarm service`);
    }
    this.#log.debug({ workspace: spec.workspace, service: serviceId, image }, 'service deployed');
    const deadline = this.#clock.now() + this.#o.readyTimeoutMs;
    for (;;) {
      const found = await this.#revision(`${serviceId}:${spec.name}`);
      const progress =
        found === undefined
          ? { kind: 'waiting' as const, task: undefined }
          : startProgress(found.revision);
      if (progress.kind === 'started' && found !== undefined) return found.revision.container;
      if (progress.kind === 'refused') {
        const why = await this.#refusal(spec, progress.task);
        await this.#retract(serviceId, spec.name, 'remove').catch((err: unknown) => {
          this.#log.warn({ err, workspace: spec.workspace }, 'could not undo a refused deploy');
        });
        throw new BucketspaceError('DOCKER_ERROR', why);
      }
      if (this.#clock.now() >= deadline) {
        const task = progress.kind === 'waiting' ? progress.task : undefined;
        const where =
          task === undefined ? '' : ` (${task.Status.State}${await this.#onNode(task)})`;
        await this.#retract(serviceId, spec.name, 'remove').catch(() => undefined);
        throw new BucketspaceError(
          'DOCKER_ERROR',
          `no task of ${spec.workspace} started within ${Math.round(this.#o.readyTimeoutMs / 1000)} s${where}`,
        );
      }
      await sleep(this.#clock, START_POLL_MS);
    }
  }

  /**
   * Stop a revision: nothing when it is not the service's current one (its
   * tasks are already being replaced); a rollout still in progress is
   * rolled back (the tasks before it keep serving); otherwise the service
   * is scaled to 0, its tasks stopped with their grace period.
   */
  async stop(id: string, timeoutSeconds: number): Promise<void> {
    const parsed = parseRevisionId(id);
    if (parsed === undefined) return;
    await this.#retract(parsed.serviceId, parsed.revision, 'stop', timeoutSeconds);
  }

  /** Remove a revision: as `stop`, but the service itself goes. */
  async remove(id: string): Promise<void> {
    const parsed = parseRevisionId(id);
    if (parsed === undefined) return;
    await this.#retract(parsed.serviceId, parsed.revision, 'remove');
  }

  async logs(id: string, tail: number): Promise<string[]> {
    const task = await this.#logTask(id);
    if (task === undefined) return [];
    try {
      const buffer = (await taskApi(this.#docker, task.ID).logs({
        stdout: true,
        stderr: true,
        tail,
        follow: false,
      })) as Buffer;
      return demuxLog(Buffer.isBuffer(buffer) ? buffer : Buffer.from(String(buffer)));
    } catch (err) {
      const classified = this.#classify(err, `read logs of ${id}`);
      if (classified.code === 'NOT_FOUND') return [];
      throw classified;
    }
  }

  async *followLogs(id: string, signal: AbortSignal): AsyncIterable<string> {
    const task = await this.#logTask(id);
    if (task === undefined) return;
    let stream: NodeJS.ReadableStream;
    try {
      stream = (await taskApi(this.#docker, task.ID).logs({
        stdout: true,
        stderr: true,
        follow: true,
        tail: 0,
        abortSignal: signal,
      })) as NodeJS.ReadableStream;
    } catch (err) {
      if (signal.aborted) return;
      throw this.#classify(err, `follow logs of ${id}`);
    }
    yield* demuxStream(stream, signal, (err) => this.#classify(err, `follow logs of ${id}`));
  }

  /**
   * A directory of one of the revision's tasks: one running on this engine's
   * node (a manager cannot read the files of another node's containers);
   * undefined when none does.
   */
  async readDirectory(
    id: string,
    dir: string,
    maxBytes: number,
  ): Promise<Map<string, Buffer> | undefined> {
    const found = await this.#revision(id);
    if (found === undefined) return undefined;
    const local = await this.#localNode();
    const task = found.revision.tasks.find(
      (t) =>
        isLive(t) &&
        t.NodeID === local &&
        (t.Status.State === 'running' || t.Status.State === 'starting') &&
        (t.Status.ContainerStatus?.ContainerID ?? '') !== '',
    );
    if (task === undefined) {
      this.#log.debug({ revision: id, dir }, 'no task on this node: its files cannot be read');
      return undefined;
    }
    return this.#local.readDirectory(task.Status.ContainerStatus?.ContainerID ?? '', dir, maxBytes);
  }

  /** The dependency caches on this engine's node (every node keeps its own). */
  listVolumes(managedBy: string): Promise<ManagedVolume[]> {
    return this.#local.listVolumes(managedBy);
  }

  removeVolume(name: string): Promise<void> {
    return this.#local.removeVolume(name);
  }

  // ---- helpers -------------------------------------------------------------

  /**
   * Take a revision away. Not the current one: nothing to do. A rollout in
   * progress (the revision before it still has live tasks): roll back.
   * Otherwise stop (scale to 0 and wait for the tasks) or remove the service.
   */
  async #retract(
    serviceId: string,
    revision: string,
    how: 'stop' | 'remove',
    timeoutSeconds = 0,
  ): Promise<void> {
    const raw = await this.#rawService(serviceId);
    if (raw === undefined) return;
    const service = toSwarmService(raw);
    if (service.revision !== revision) return;
    const tasks = await this.#tasks([serviceId]);
    const previous = service.previousRevision;
    const rollingOut =
      previous !== undefined &&
      previous !== revision &&
      tasks.some((t) => revisionLabel(t) === previous && isLive(t));
    try {
      if (rollingOut) {
        this.#log.info({ service: service.ID, revision, back_to: previous }, 'rolling back');
        await this.#update(raw, raw.Spec ?? {}, true);
      } else if (how === 'remove') {
        await this.#docker.getService(serviceId).remove();
        this.#log.debug({ service: service.ID, revision }, 'removed service');
      } else {
        await this.#update(raw, { ...raw.Spec, Mode: { Replicated: { Replicas: 0 } } });
        await this.#drained(serviceId, timeoutSeconds);
      }
    } catch (err) {
      const classified = this.#classify(
        err,
        `${rollingOut ? 'roll back' : how} service ${serviceId}`,
      );
      if (classified.code === 'NOT_FOUND') return;
      // Changed meanwhile (Swarm moved on, another monitor acted): fine if this revision is gone.
      const now = await this.#rawService(serviceId);
      if (now === undefined || toSwarmService(now).revision !== revision) return;
      throw classified;
    }
  }

  /** Wait until no task of the service runs (scaled to 0), at most the grace period and a little. */
  async #drained(serviceId: string, timeoutSeconds: number): Promise<void> {
    const deadline = this.#clock.now() + timeoutSeconds * 1000 + 5_000;
    while (this.#clock.now() < deadline) {
      const tasks = await this.#tasks([serviceId]);
      if (!tasks.some((t) => t.Status.State === 'running' || t.Status.State === 'starting')) return;
      await sleep(this.#clock, START_POLL_MS);
    }
  }

  /** Roll the service out to `spec` (or back to its previous spec). */
  async #update(raw: Docker.Service, spec: Docker.ServiceSpec, rollback = false): Promise<void> {
    const query: Record<string, string | number> = { version: raw.Version?.Index ?? 0 };
    if (rollback) query.rollback = 'previous';
    await this.#docker.getService(raw.ID).update({ _query: query, _body: spec });
  }

  async #revision(id: string): Promise<{ revision: Revision } | undefined> {
    const parsed = parseRevisionId(id);
    if (parsed === undefined) return undefined;
    const raw = await this.#rawService(parsed.serviceId);
    if (raw === undefined) return undefined;
    const tasks = await this.#tasks([raw.ID]);
    const revision = revisionsOf(toSwarmService(raw), tasks, this.#o.network).find(
      (r) => r.container.name === parsed.revision,
    );
    return revision === undefined ? undefined : { revision };
  }

  /** The task whose logs stand for the revision: the newest live one, else the newest. */
  async #logTask(id: string): Promise<SwarmTask | undefined> {
    const tasks = (await this.#revision(id))?.revision.tasks ?? [];
    return tasks.find(isLive) ?? tasks[0];
  }

  async #rawService(id: string): Promise<Docker.Service | undefined> {
    try {
      return (await this.#docker.getService(id).inspect()) as Docker.Service;
    } catch (err) {
      const classified = this.#classify(err, `inspect service ${id}`);
      if (classified.code === 'NOT_FOUND') return undefined;
      throw classified;
    }
  }

  async #rawServices(labels: string[]): Promise<Docker.Service[]> {
    try {
      return await this.#docker.listServices({ filters: { label: labels } });
    } catch (err) {
      throw this.#classify(err, 'list services');
    }
  }

  async #services(labels: string[]): Promise<SwarmService[]> {
    return (await this.#rawServices(labels)).map(toSwarmService);
  }

  async #tasks(serviceIds: string[]): Promise<SwarmTask[]> {
    try {
      return (await this.#docker.listTasks({ filters: { service: serviceIds } })) as SwarmTask[];
    } catch (err) {
      throw this.#classify(err, 'list tasks');
    }
  }

  async #pin(image: string): Promise<string> {
    let local: Docker.ImageInspectInfo | undefined;
    try {
      local = await this.#docker.getImage(image).inspect();
    } catch (err) {
      const classified = this.#classify(err, `inspect image ${image}`);
      if (classified.code !== 'NOT_FOUND') throw classified;
    }
    const known =
      local === undefined ? undefined : { id: local.Id, repoDigests: local.RepoDigests ?? [] };
    return pinnedImage(
      image,
      known,
      known === undefined ? await this.#registryDigest(image) : undefined,
    );
  }

  async #registryDigest(image: string): Promise<string | undefined> {
    try {
      return (await this.#docker.getImage(image).distribution()).Descriptor.digest;
    } catch (err) {
      const classified = this.#classify(err, `ask the registry for ${repositoryOf(image)}`);
      if (classified.code === 'DOCKER_UNREACHABLE') throw classified;
      return undefined;
    }
  }

  /** This engine's node, and that it can manage the swarm. */
  async #localNode(): Promise<string> {
    if (this.#nodeId !== undefined) return this.#nodeId;
    let info: { Swarm?: { NodeID?: string; ControlAvailable?: boolean; LocalNodeState?: string } };
    try {
      info = (await this.#docker.info()) as typeof info;
    } catch (err) {
      throw this.#classify(err, 'ask Docker about its swarm');
    }
    const swarm = info.Swarm;
    if (swarm?.LocalNodeState !== 'active' || swarm.ControlAvailable !== true || !swarm.NodeID) {
      throw notAManager(
        swarm?.LocalNodeState === 'active'
          ? 'this engine is a swarm worker'
          : 'this engine is not in a swarm',
      );
    }
    this.#nodeId = swarm.NodeID;
    return this.#nodeId;
  }

  async #nodeName(id: string): Promise<string> {
    const known = this.#nodeNames.get(id);
    if (known !== undefined) return known;
    try {
      const node = (await this.#docker.getNode(id).inspect()) as {
        Description?: { Hostname?: string };
      };
      const name = node.Description?.Hostname ?? id;
      this.#nodeNames.set(id, name);
      return name;
    } catch {
      return id;
    }
  }

  async #onNode(task: SwarmTask): Promise<string> {
    return task.NodeID === undefined || task.NodeID === ''
      ? ''
      : ` on node ${await this.#nodeName(task.NodeID)}`;
  }

  /** Why a task could not start, with the node and what every node needs. */
  async #refusal(spec: ContainerSpec, task: SwarmTask): Promise<string> {
    const reason = task.Status.Err ?? task.Status.Message ?? task.Status.State;
    if (task.Status.State === 'pending') {
      return (
        `${spec.workspace}: Swarm cannot place it: ${reason} ` +
        '(see SWARM_CONSTRAINTS, SWARM_MEMORY_RESERVATION and SWARM_CPUS_RESERVATION, and docker node ls)'
      );
    }
    return (
      `${spec.workspace}: the task was ${task.Status.State}${await this.#onNode(task)}: ${reason}; ` +
      `every node that runs workspaces needs the image ${spec.image} and the workspaces at ${spec.binds[0]?.source ?? 'the bind source'} ` +
      '(README: From one server to three)'
    );
  }

  #classify(err: unknown, action: string): BucketspaceError {
    if (isBucketspaceError(err)) return err;
    const classified = classifyDockerError(err, action);
    if (classified.details.status === 503) return notAManager(classified.message);
    return classified;
  }
}

function notAManager(why: string): BucketspaceError {
  return new BucketspaceError(
    'DOCKER_UNREACHABLE',
    `RUNTIME_ENGINE=swarm needs a swarm manager: ${why} (docker swarm init, or DOCKER_HOST of a manager)`,
    { retryable: true },
  );
}

/** The Task API's logs call (dockerode has it; its type declarations do not). */
function taskApi(
  docker: Docker,
  id: string,
): { logs(options: Record<string, unknown>): Promise<unknown> } {
  return docker.getTask(id) as unknown as {
    logs(options: Record<string, unknown>): Promise<unknown>;
  };
}

function revisionLabel(task: SwarmTask): string | undefined {
  return task.Spec.ContainerSpec?.Labels?.[REVISION_LABEL];
}

/** The fields of a service the runtime reads. */
export function toSwarmService(raw: Docker.Service): SwarmService {
  const spec = raw.Spec;
  const labels =
    spec?.TaskTemplate !== undefined && 'ContainerSpec' in spec.TaskTemplate
      ? (spec.TaskTemplate.ContainerSpec?.Labels ?? spec.Labels ?? {})
      : (spec?.Labels ?? {});
  const updated = Date.parse(raw.UpdatedAt ?? raw.CreatedAt ?? '');
  return {
    ID: raw.ID,
    version: raw.Version?.Index ?? 0,
    updatedAtMs: Number.isNaN(updated) ? 0 : updated,
    revision: spec?.Labels?.[REVISION_LABEL] ?? '',
    labels,
    previousRevision: raw.PreviousSpec?.Labels?.[REVISION_LABEL],
    replicas: spec?.Mode?.Replicated?.Replicas ?? 0,
  };
}
