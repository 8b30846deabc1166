import type { RuntimeType } from '../types.ts';

/** Labels that identify bucketspace's containers (found by label, never by name). */
export const LABELS = {
  managedBy: 'bucketspace.managed-by',
  workspace: 'bucketspace.workspace',
  fingerprint: 'bucketspace.fingerprint',
  type: 'bucketspace.type',
  port: 'bucketspace.port',
  /** On containers and dependency-cache volumes: the cache the container uses. */
  dependencyKey: 'bucketspace.dependency-key',
} as const;

export interface RuntimeLimits {
  memoryBytes: number;
  nanoCpus: number;
  pids: number;
  /** Size of /tmp, a tmpfs (RUNTIME_TMP_SIZE): writes past it fail with ENOSPC. */
  tmpBytes: number;
  /**
   * Size limit of the writable layer (RUNTIME_DISK, the engine's storage-opt
   * `size`), only where the storage driver enforces one (decision 0056).
   */
  writableBytes?: number | undefined;
}

/** Everything needed to create one workspace container; built by buildContainerSpec. */
export interface ContainerSpec {
  name: string;
  image: string;
  workspace: string;
  fingerprint: string;
  type: RuntimeType;
  port: number;
  env: Record<string, string>;
  labels: Record<string, string>;
  network: string;
  /** Host paths bind-mounted into the container. */
  binds: { source: string; target: string; readOnly: boolean }[];
  /** Named volumes, created with these labels when missing. */
  volumes: { name: string; target: string; labels: Record<string, string> }[];
  limits: RuntimeLimits;
  capAdd: string[];
  stopTimeoutSeconds: number;
  /** Copies that run at once (workspace.json `replicas`): a runtime that cannot run more runs one. */
  replicas: number;
}

export type ContainerStatus =
  'created' | 'running' | 'restarting' | 'paused' | 'exited' | 'dead' | 'removing';

/** A container the runtime manages, as seen on the engine. */
export interface ManagedContainer {
  id: string;
  name: string;
  workspace: string;
  fingerprint: string;
  type: string;
  port: number;
  status: ContainerStatus;
  /** Exit code once it stopped; null while running or never started. */
  exitCode: number | null;
  /** Address on the monitor's network; null when not attached or not running. */
  ip: string | null;
  /**
   * Every address that answers for it when it runs as several copies (a
   * Swarm service's ready tasks), `ip` among them; absent for one container.
   */
  addresses?: readonly string[];
  createdAtMs: number;
  startedAtMs: number | null;
  /** The dependency cache it was started with (LABELS.dependencyKey); null for none. */
  dependencyKey: string | null;
}

/** A Docker network as the apps firewall needs to know it. */
export interface NetworkInfo {
  name: string;
  id: string;
  driver: string;
  /** The Linux bridge of a `bridge` network (`br-<id>` unless named by an option); null for other drivers. */
  bridge: string | null;
  /** IPv4 subnets and their gateways (the host's address on the network). */
  subnets: { subnet: string; gateway: string | null }[];
  ipv6: boolean;
}

/** A one-shot container run to completion (the apps firewall). */
export interface TaskSpec {
  /** Fixed per task and monitor: a leftover of an earlier run is removed first. */
  name: string;
  image: string;
  cmd: string[];
  env: Record<string, string>;
  labels: Record<string, string>;
  /** Runs in the host's network namespace. */
  hostNetwork: boolean;
  /** The only capabilities it gets; every other one is dropped. */
  capAdd: string[];
}

export interface TaskResult {
  exitCode: number;
  /** Its output, stdout and stderr interleaved, one line each. */
  lines: string[];
}

/** How much disk one running workspace container uses (decision 0056). */
export interface ContainerDiskUsage {
  id: string;
  workspace: string;
  /** Bytes in its writable layer (the engine's SizeRw); null when the engine did not say. */
  writableBytes: number | null;
  /** Its named volumes (the dependency cache) with their sizes; null when the engine did not say. */
  volumes: { name: string; bytes: number | null }[];
}

/** A dependency-cache volume of one workspace. */
export interface ManagedVolume {
  name: string;
  workspace: string;
  dependencyKey: string;
}

/**
 * The container engine as the monitor needs it. Operations are idempotent:
 * stopping a stopped container and removing a missing one succeed.
 * Failures are BucketspaceErrors: DOCKER_UNREACHABLE (retryable), NOT_FOUND,
 * CONFLICT, DOCKER_ERROR.
 */
export interface ContainerRuntime {
  ping(): Promise<void>;
  /** Creates the network when missing. */
  ensureNetwork(name: string, labels: Record<string, string>): Promise<void>;
  /** The image's ID (content digest), or undefined when the engine does not have it. */
  imageId(image: string): Promise<string | undefined>;
  /** Every container carrying `LABELS.managedBy = managedBy`, running or not. */
  list(managedBy: string): Promise<ManagedContainer[]>;
  inspect(id: string): Promise<ManagedContainer | undefined>;
  /** Create and start; returns the started container. */
  run(spec: ContainerSpec): Promise<ManagedContainer>;
  stop(id: string, timeoutSeconds: number): Promise<void>;
  remove(id: string): Promise<void>;
  logs(id: string, tail: number): Promise<string[]>;
  followLogs(id: string, signal: AbortSignal): AsyncIterable<string>;
  /**
   * The regular files directly in a directory of the container (running or
   * stopped), by name, each cut at `maxBytes`; undefined when the directory
   * is not there.
   */
  readDirectory(
    id: string,
    dir: string,
    maxBytes: number,
  ): Promise<Map<string, Buffer> | undefined>;
  /** Every volume carrying `LABELS.managedBy = managedBy` and a workspace label. */
  listVolumes(managedBy: string): Promise<ManagedVolume[]>;
  /** Removes a volume; a missing one is success. Throws CONFLICT while a container uses it. */
  removeVolume(name: string): Promise<void>;
}

/**
 * What one Docker engine can do for the host it runs on, and a swarm cannot
 * (its tasks run on other hosts): the apps firewall (decision 0055) and the
 * disk budget (decision 0056). The Docker runtime has it; the Swarm runtime
 * does not, and RUNTIME_ISOLATION and RUNTIME_DISK must be off there.
 */
export interface HostEngine {
  /** The network, or undefined when there is none by that name. */
  inspectNetwork(name: string): Promise<NetworkInfo | undefined>;
  /** Run a one-shot container to its end and remove it; NOT_FOUND when the image is missing. */
  runTask(spec: TaskSpec): Promise<TaskResult>;
  /** Disk use of every running container carrying `LABELS.managedBy = managedBy` (one engine call). */
  diskUsage(managedBy: string): Promise<ContainerDiskUsage[]>;
  /**
   * Whether the engine limits a container's writable layer here (storage-opt
   * `size`: overlay2 on xfs with pquota, btrfs, zfs): tried by creating, never
   * starting, a container of `image` with the limit.
   */
  probeWritableLimit(
    image: string,
    bytes: number,
  ): Promise<{ ok: true } | { ok: false; reason: string }>;
}
