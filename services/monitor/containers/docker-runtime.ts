import Docker from 'dockerode';
import { BucketspaceError, isBucketspaceError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import { classifyDockerError } from './docker-errors.ts';
import type { DockerConnection } from './docker-host.ts';
import { demuxLog, demuxStream } from './docker-log.ts';
import { ENGINE_LOG_CONFIG, engineEnv, engineMounts } from './engine-config.ts';
import { tarEntries } from './tar-entries.ts';
import {
  LABELS,
  type ContainerDiskUsage,
  type ContainerRuntime,
  type ContainerSpec,
  type HostEngine,
  type ContainerStatus,
  type ManagedContainer,
  type ManagedVolume,
  type NetworkInfo,
  type TaskResult,
  type TaskSpec,
} from './types.ts';

/** The Linux bridge's name, when the network sets one. */
const BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name';

export interface DockerRuntimeOptions {
  connection: DockerConnection;
  logger: Logger;
  /** Per-request timeout for engine calls (not for log streams). */
  timeoutMs?: number;
}

/** ContainerRuntime on the Docker Engine API, through dockerode. */
export class DockerRuntime implements ContainerRuntime, HostEngine {
  readonly #docker: Docker;
  readonly #logger: Logger;

  constructor(options: DockerRuntimeOptions) {
    this.#docker = new Docker({ ...options.connection, timeout: options.timeoutMs ?? 30_000 });
    this.#logger = options.logger;
  }

  async ping(): Promise<void> {
    try {
      await this.#docker.ping();
    } catch (err) {
      throw classifyDockerError(err, 'ping Docker');
    }
  }

  async ensureNetwork(name: string, labels: Record<string, string>): Promise<void> {
    try {
      const found = await this.#docker.listNetworks({ filters: { name: [name] } });
      if (found.some((n) => n.Name === name)) return;
      await this.#docker.createNetwork({
        Name: name,
        Driver: 'bridge',
        Labels: labels,
        CheckDuplicate: true,
      });
      this.#logger.info({ network: name }, 'created network');
    } catch (err) {
      const classified = classifyDockerError(err, `create network ${name}`);
      // Another monitor created it at the same moment: that is what we wanted.
      if (classified.code === 'CONFLICT') return;
      throw classified;
    }
  }

  async inspectNetwork(name: string): Promise<NetworkInfo | undefined> {
    let info: Docker.NetworkInspectInfo;
    try {
      info = await this.#docker.getNetwork(name).inspect();
    } catch (err) {
      const classified = classifyDockerError(err, `inspect network ${name}`);
      if (classified.code === 'NOT_FOUND') return undefined;
      throw classified;
    }
    const options = info.Options ?? {};
    return {
      name: info.Name,
      id: info.Id,
      driver: info.Driver,
      bridge:
        info.Driver === 'bridge'
          ? (options[BRIDGE_NAME_OPTION] ?? `br-${info.Id.slice(0, 12)}`)
          : null,
      subnets: (info.IPAM?.Config ?? [])
        .filter((c) => c.Subnet !== undefined && !c.Subnet.includes(':'))
        .map((c) => ({ subnet: c.Subnet ?? '', gateway: c.Gateway ?? null })),
      ipv6: info.EnableIPv6,
    };
  }

  async runTask(spec: TaskSpec): Promise<TaskResult> {
    await this.remove(spec.name);
    let container: Docker.Container;
    try {
      container = await this.#docker.createContainer({
        name: spec.name,
        Image: spec.image,
        Cmd: spec.cmd,
        Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
        Labels: spec.labels,
        HostConfig: {
          NetworkMode: spec.hostNetwork ? 'host' : 'none',
          CapDrop: ['ALL'],
          CapAdd: spec.capAdd,
          SecurityOpt: ['no-new-privileges'],
          // Read-only but for lock and scratch files (iptables-legacy locks /run/xtables.lock).
          ReadonlyRootfs: true,
          Tmpfs: { '/run': 'size=1m', '/tmp': 'size=16m' },
          RestartPolicy: { Name: 'no' },
          LogConfig: { Type: 'json-file', Config: { 'max-size': '1m' } },
        },
      });
    } catch (err) {
      throw classifyDockerError(err, `create the ${spec.name} container`);
    }
    try {
      await container.start();
      const { StatusCode } = (await container.wait()) as { StatusCode: number };
      const buffer = await container.logs({ stdout: true, stderr: true, follow: false });
      return { exitCode: StatusCode, lines: demuxLog(buffer) };
    } catch (err) {
      throw classifyDockerError(err, `run the ${spec.name} container`);
    } finally {
      await this.remove(container.id).catch(() => undefined);
    }
  }

  async imageId(image: string): Promise<string | undefined> {
    try {
      return (await this.#docker.getImage(image).inspect()).Id;
    } catch (err) {
      const classified = classifyDockerError(err, `inspect image ${image}`);
      if (classified.code === 'NOT_FOUND') return undefined;
      throw classified;
    }
  }

  async list(managedBy: string): Promise<ManagedContainer[]> {
    let infos: Docker.ContainerInfo[];
    try {
      infos = await this.#docker.listContainers({
        all: true,
        filters: { label: [`${LABELS.managedBy}=${managedBy}`] },
      });
    } catch (err) {
      throw classifyDockerError(err, 'list containers');
    }
    return infos.map((info) => fromListInfo(info));
  }

  async inspect(id: string): Promise<ManagedContainer | undefined> {
    try {
      return fromInspect(await this.#docker.getContainer(id).inspect());
    } catch (err) {
      const classified = classifyDockerError(err, `inspect container ${id}`);
      if (classified.code === 'NOT_FOUND') return undefined;
      throw classified;
    }
  }

  async run(spec: ContainerSpec): Promise<ManagedContainer> {
    let container: Docker.Container;
    try {
      container = await this.#docker.createContainer(createOptions(spec));
    } catch (err) {
      throw classifyDockerError(err, `create container for ${spec.workspace}`);
    }
    try {
      await container.start();
      const started = fromInspect(await container.inspect());
      return started;
    } catch (err) {
      await this.remove(container.id).catch(() => undefined);
      throw classifyDockerError(err, `start container for ${spec.workspace}`);
    }
  }

  async stop(id: string, timeoutSeconds: number): Promise<void> {
    try {
      await this.#docker.getContainer(id).stop({ t: timeoutSeconds });
    } catch (err) {
      if (statusCode(err) === 304) return; // already stopped
      const classified = classifyDockerError(err, `stop container ${id}`);
      if (classified.code === 'NOT_FOUND') return;
      throw classified;
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await this.#docker.getContainer(id).remove({ force: true, v: true });
    } catch (err) {
      const classified = classifyDockerError(err, `remove container ${id}`);
      if (classified.code === 'NOT_FOUND') return;
      // 409 "removal already in progress": someone else is removing it.
      if (classified.code === 'CONFLICT') return;
      throw classified;
    }
  }

  async logs(id: string, tail: number): Promise<string[]> {
    try {
      const buffer = await this.#docker
        .getContainer(id)
        .logs({ stdout: true, stderr: true, tail, follow: false });
      return demuxLog(buffer);
    } catch (err) {
      const classified = classifyDockerError(err, `read logs of ${id}`);
      if (classified.code === 'NOT_FOUND') return [];
      throw classified;
    }
  }

  async *followLogs(id: string, signal: AbortSignal): AsyncIterable<string> {
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.#docker
        .getContainer(id)
        .logs({ stdout: true, stderr: true, follow: true, tail: 0, abortSignal: signal });
    } catch (err) {
      if (signal.aborted) return;
      throw classifyDockerError(err, `follow logs of ${id}`);
    }
    yield* demuxStream(stream, signal, (err) => classifyDockerError(err, `follow logs of ${id}`));
  }

  async readDirectory(
    id: string,
    dir: string,
    maxBytes: number,
  ): Promise<Map<string, Buffer> | undefined> {
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.#docker.getContainer(id).getArchive({ path: dir });
    } catch (err) {
      const classified = classifyDockerError(err, `read ${dir} in container ${id}`);
      if (classified.code === 'NOT_FOUND') return undefined;
      throw classified;
    }
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of stream) {
        const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        total += buffer.length;
        if (total > maxBytes) {
          throw new BucketspaceError(
            'DOCKER_ERROR',
            `${dir} in container ${id} is larger than ${maxBytes} bytes`,
          );
        }
        chunks.push(buffer);
      }
    } catch (err) {
      if (isBucketspaceError(err)) throw err;
      throw classifyDockerError(err, `read ${dir} in container ${id}`);
    }
    const files = new Map<string, Buffer>();
    for (const entry of tarEntries(Buffer.concat(chunks))) {
      const parts = entry.name.split('/');
      if (entry.type === '0' && parts.length === 2 && parts[1] !== undefined) {
        files.set(parts[1], entry.data);
      }
    }
    return files;
  }

  async diskUsage(managedBy: string): Promise<ContainerDiskUsage[]> {
    let df: SystemDf;
    try {
      df = (await this.#docker.df()) as SystemDf;
    } catch (err) {
      throw classifyDockerError(err, 'read disk usage');
    }
    const sizes = new Map<string, number | null>();
    for (const v of df.Volumes ?? []) sizes.set(v.Name, knownSize(v.UsageData?.Size));
    return (df.Containers ?? [])
      .filter((c) => c.Labels?.[LABELS.managedBy] === managedBy && c.State === 'running')
      .map((c) => ({
        id: c.Id,
        workspace: c.Labels?.[LABELS.workspace] ?? '',
        writableBytes: knownSize(c.SizeRw),
        volumes: (c.Mounts ?? [])
          .filter((m) => m.Type === 'volume' && m.Name !== undefined)
          .map((m) => ({ name: m.Name ?? '', bytes: sizes.get(m.Name ?? '') ?? null })),
      }));
  }

  async probeWritableLimit(
    image: string,
    bytes: number,
  ): Promise<{ ok: true } | { ok: false; reason: string }> {
    let container: Docker.Container;
    try {
      container = await this.#docker.createContainer({
        Image: image,
        Entrypoint: ['true'],
        Cmd: [],
        Labels: { 'bucketspace.task': 'storage-quota-probe' },
        HostConfig: { NetworkMode: 'none', StorageOpt: { size: String(bytes) } },
      });
    } catch (err) {
      const classified = classifyDockerError(err, 'create a container with a storage size limit');
      if (classified.code === 'DOCKER_UNREACHABLE') throw classified;
      return { ok: false, reason: classified.message };
    }
    await this.remove(container.id);
    return { ok: true };
  }

  async listVolumes(managedBy: string): Promise<ManagedVolume[]> {
    let volumes: Docker.VolumeInspectInfo[];
    try {
      const listed = await this.#docker.listVolumes({
        filters: { label: [`${LABELS.managedBy}=${managedBy}`, LABELS.workspace] },
      });
      volumes = listed.Volumes;
    } catch (err) {
      throw classifyDockerError(err, 'list volumes');
    }
    return volumes.map((v) => ({
      name: v.Name,
      workspace: v.Labels[LABELS.workspace] ?? '',
      dependencyKey: v.Labels[LABELS.dependencyKey] ?? '',
    }));
  }

  async removeVolume(name: string): Promise<void> {
    try {
      await this.#docker.getVolume(name).remove();
    } catch (err) {
      const classified = classifyDockerError(err, `remove volume ${name}`);
      if (classified.code === 'NOT_FOUND') return;
      throw classified;
    }
  }
}

/** What the engine's /system/df says of containers and volumes (the parts read here). */
interface SystemDf {
  Containers?: {
    Id: string;
    State?: string;
    Labels?: Record<string, string>;
    SizeRw?: number;
    Mounts?: { Type?: string; Name?: string }[];
  }[];
  Volumes?: { Name: string; UsageData?: { Size?: number } | null }[];
}

/** A size the engine reported; -1 and missing mean it did not compute one. */
function knownSize(n: number | undefined): number | null {
  return typeof n === 'number' && n >= 0 ? n : null;
}

function statusCode(err: unknown): number | undefined {
  return typeof err === 'object' &&
    err !== null &&
    'statusCode' in err &&
    typeof err.statusCode === 'number'
    ? err.statusCode
    : undefined;
}

function createOptions(spec: ContainerSpec): Docker.ContainerCreateOptions {
  return {
    name: spec.name,
    Image: spec.image,
    Hostname: spec.workspace,
    Env: engineEnv(spec),
    Labels: spec.labels,
    ExposedPorts: { [`${spec.port}/tcp`]: {} },
    StopTimeout: spec.stopTimeoutSeconds,
    HostConfig: {
      NetworkMode: spec.network,
      Mounts: engineMounts(spec),
      CapDrop: ['ALL'],
      CapAdd: spec.capAdd,
      SecurityOpt: ['no-new-privileges'],
      Memory: spec.limits.memoryBytes,
      MemorySwap: spec.limits.memoryBytes,
      NanoCpus: spec.limits.nanoCpus,
      PidsLimit: spec.limits.pids,
      // exec: Go's start builds and runs its binary there.
      Tmpfs: { '/tmp': `rw,exec,nosuid,nodev,mode=1777,size=${spec.limits.tmpBytes}` },
      ...(spec.limits.writableBytes === undefined
        ? {}
        : { StorageOpt: { size: String(spec.limits.writableBytes) } }),
      RestartPolicy: { Name: 'no' },
      LogConfig: { Type: ENGINE_LOG_CONFIG.Type, Config: { ...ENGINE_LOG_CONFIG.Config } },
    },
    NetworkingConfig: { EndpointsConfig: { [spec.network]: { Aliases: [spec.workspace] } } },
  };
}

function labelsToFields(labels: Record<string, string> | undefined) {
  const l = labels ?? {};
  return {
    workspace: l[LABELS.workspace] ?? '',
    fingerprint: l[LABELS.fingerprint] ?? '',
    type: l[LABELS.type] ?? '',
    port: Number(l[LABELS.port] ?? 0),
    dependencyKey: l[LABELS.dependencyKey] ?? null,
  };
}

function firstIp(networks: Record<string, { IPAddress?: string }> | undefined): string | null {
  for (const net of Object.values(networks ?? {})) {
    if (net.IPAddress !== undefined && net.IPAddress !== '') return net.IPAddress;
  }
  return null;
}

function fromListInfo(info: Docker.ContainerInfo): ManagedContainer {
  const status = info.State as ContainerStatus;
  return {
    id: info.Id,
    name: (info.Names[0] ?? '').replace(/^\//, ''),
    ...labelsToFields(info.Labels),
    status,
    // The list endpoint has no exit code field; inspect() gives it.
    exitCode: null,
    ip: status === 'running' ? firstIp(info.NetworkSettings.Networks) : null,
    createdAtMs: info.Created * 1000,
    startedAtMs: null,
  };
}

function fromInspect(info: Docker.ContainerInspectInfo): ManagedContainer {
  const status = info.State.Status as ContainerStatus;
  const started = Date.parse(info.State.StartedAt);
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    ...labelsToFields(info.Config.Labels),
    status,
    exitCode: status === 'exited' || status === 'dead' ? info.State.ExitCode : null,
    ip: status === 'running' ? firstIp(info.NetworkSettings.Networks) : null,
    createdAtMs: Date.parse(info.Created),
    startedAtMs: Number.isNaN(started) || started <= 0 ? null : started,
  };
}
