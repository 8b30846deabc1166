import { createHash } from 'node:crypto';
import type Docker from 'dockerode';
import { ENGINE_LOG_CONFIG, engineEnv, engineMounts } from '../containers/engine-config.ts';
import { LABELS, type ContainerSpec } from '../containers/types.ts';
import { REVISION_LABEL } from './types.ts';

/** How the Swarm runtime places and sizes workspace services; the same for every deploy. */
export interface SwarmPlacement {
  /** Reserved per task (what the scheduler counts), at most the limits. */
  reservations: { memoryBytes: number; nanoCpus: number };
  /** Placement constraints every task obeys (`node.role==worker`, `node.labels.apps==true`). */
  constraints: readonly string[];
  /** What tasks spread over (`node.id`, `node.labels.zone`). */
  spreadOver: string;
}

export interface ServiceSpecOptions {
  spec: ContainerSpec;
  /** The image reference the tasks run: pinned to a digest or an image ID (swarm-runtime.ts). */
  image: string;
  placement: SwarmPlacement;
  /** How long the install and start may take before failed health checks count. */
  startPeriodMs: number;
  /** How often each task's health check connects to its port. */
  healthIntervalMs: number;
}

/** Restarts Swarm makes on its own before the monitor takes over (and backs off). */
export const RESTART_POLICY = {
  Condition: 'any',
  Delay: 2e9,
  MaxAttempts: 3,
  Window: 120e9,
} as const;

const SERVICE_NAME_MAX = 63;

/**
 * The name of a workspace's service: `<instance>-<workspace>` (a DNS label,
 * one per monitor instance and workspace), shortened with a hash when too long.
 */
export function serviceName(managedBy: string, workspace: string): string {
  const name = `${managedBy}-${workspace}`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  if (name.length <= SERVICE_NAME_MAX) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, SERVICE_NAME_MAX - 9).replace(/-+$/, '')}-${hash}`;
}

/**
 * The health check on the app's port: a TCP connection from inside the task
 * (bash's /dev/tcp; the runtime images are Debian-based). A task is only
 * `running` for Swarm, and only replaces the one before it in a rollout,
 * once this passes.
 */
export function portCheck(port: number): string[] {
  return ['CMD', 'bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`];
}

/**
 * The Swarm service of one workspace deploy. Pure. The same container as
 * the Docker runtime makes (labels, environment, read-only source, cache
 * volume, every capability dropped, the image's non-root user, limits),
 * plus: the deploy's revision label (tasks carry it), `replicas` copies,
 * reservations, placement, a health check on the port, restarts by Swarm
 * (RESTART_POLICY), rollouts that start the new tasks first and pause on a
 * failure (the monitor rolls back), and DNS round robin on the network (no
 * virtual IP: the monitor routes to the tasks' addresses itself).
 */
export function buildServiceSpec(options: ServiceSpecOptions): Docker.ServiceSpec {
  const { spec, placement } = options;
  const labels: Record<string, string> = { ...spec.labels, [REVISION_LABEL]: spec.name };
  const limits = spec.limits;
  const nanos = (ms: number) => Math.round(ms * 1e6);
  return {
    Name: serviceName(spec.labels[LABELS.managedBy] ?? '', spec.workspace),
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: options.image,
        Labels: labels,
        Hostname: spec.workspace,
        Env: engineEnv(spec),
        Mounts: engineMounts(spec),
        CapabilityDrop: ['ALL'],
        CapabilityAdd: [...spec.capAdd],
        StopGracePeriod: spec.stopTimeoutSeconds * 1e9,
        HealthCheck: {
          Test: portCheck(spec.port),
          Interval: nanos(options.healthIntervalMs),
          Timeout: nanos(Math.max(1_000, options.healthIntervalMs)),
          Retries: 3,
          StartPeriod: nanos(options.startPeriodMs),
        },
      },
      Resources: {
        Limits: { MemoryBytes: limits.memoryBytes, NanoCPUs: limits.nanoCpus, Pids: limits.pids },
        Reservations: {
          MemoryBytes: Math.min(placement.reservations.memoryBytes, limits.memoryBytes),
          NanoCPUs: Math.min(placement.reservations.nanoCpus, limits.nanoCpus),
        },
      },
      RestartPolicy: { ...RESTART_POLICY },
      Placement: {
        Constraints: [...placement.constraints],
        Preferences: [{ Spread: { SpreadDescriptor: placement.spreadOver } }],
      },
      Networks: [{ Target: spec.network, Aliases: [spec.workspace] }],
      LogDriver: { Name: ENGINE_LOG_CONFIG.Type, Options: { ...ENGINE_LOG_CONFIG.Config } },
    },
    Mode: { Replicated: { Replicas: spec.replicas } },
    UpdateConfig: {
      Parallelism: 0,
      Order: 'start-first',
      FailureAction: 'pause',
      MaxFailureRatio: 0,
    },
    RollbackConfig: {
      Parallelism: 0,
      Order: 'start-first',
      FailureAction: 'pause',
      MaxFailureRatio: 0,
    },
    EndpointSpec: { Mode: 'dnsrr' },
  };
}
