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
  limits: { memoryBytes: number; nanoCpus: number; pids: number };
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
  /** Creates the network when missing; returns its name. */
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
