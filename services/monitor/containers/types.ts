import type { RuntimeType } from '../types.ts';

/** Labels that identify bucketspace's containers (found by label, never by name). */
export const LABELS = {
  managedBy: 'bucketspace.managed-by',
  workspace: 'bucketspace.workspace',
  fingerprint: 'bucketspace.fingerprint',
  type: 'bucketspace.type',
  port: 'bucketspace.port',
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
  limits: { memoryBytes: number; nanoCpus: number; pids: number };
  capAdd: string[];
  stopTimeoutSeconds: number;
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
  createdAtMs: number;
  startedAtMs: number | null;
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
  imageExists(image: string): Promise<boolean>;
  /** Every container carrying `LABELS.managedBy = managedBy`, running or not. */
  list(managedBy: string): Promise<ManagedContainer[]>;
  inspect(id: string): Promise<ManagedContainer | undefined>;
  /** Create and start; returns the started container. */
  run(spec: ContainerSpec): Promise<ManagedContainer>;
  stop(id: string, timeoutSeconds: number): Promise<void>;
  remove(id: string): Promise<void>;
  logs(id: string, tail: number): Promise<string[]>;
  followLogs(id: string, signal: AbortSignal): AsyncIterable<string>;
}
