import path from 'node:path';
import type { RunPlan, RuntimeType } from '../types.ts';
import { REPORT_DIR } from './deploy-report.ts';
import { LABELS, type ContainerSpec, type RuntimeLimits } from './types.ts';

export type { RuntimeLimits };

/** Where an extra CA bundle appears inside runtime containers. */
export const CONTAINER_CA_PATH = '/etc/bucketspace/ca.pem';

export interface ContainerSpecOptions {
  workspace: string;
  /** The workspace directory as the Docker engine sees it (a host path). */
  hostDir: string;
  plan: RunPlan;
  fingerprint: string;
  images: Record<RuntimeType, string>;
  network: string;
  managedBy: string;
  limits: RuntimeLimits;
  /** Host path of an extra CA bundle to trust inside the container. */
  caBundle?: string | undefined;
  stopTimeoutSeconds: number;
  /** Makes the name unique so a replacement can start beside the old container. */
  suffix: string;
  /** A per-workspace volume that keeps what the install wrote, for the next container. */
  dependencyCache?: DependencyCache | undefined;
}

/** Where the install's output is kept between containers of one workspace. */
export interface DependencyCache {
  /** The volume: one per workspace and key, never shared with another workspace. */
  volume: string;
  /** Where the install writes (node_modules, the venv, GOPATH), mounted from the volume. */
  dir: string;
  /** What the install depends on (dependency files, image): same key, same result. */
  key: string;
  /** Extra environment that points tools at the cache (Go's build cache). */
  env: Record<string, string>;
}

/** The name of a workspace's dependency-cache volume for a key. */
export function dependencyVolumeName(managedBy: string, workspace: string, key: string): string {
  return `bucketspace-deps-${managedBy}-${workspace}-${key.slice(0, 16)}`;
}

/**
 * The container for one workspace: read-only source at /workspace, the plan's
 * commands and port in the environment, labels to find it again, no host
 * ports, and limits (memory, CPU, processes, the size of the /tmp tmpfs and,
 * where enforceable, of the writable layer); with a dependency cache, its volume at the install's
 * directory and BUCKETSPACE_DEPS_DIR/_KEY for the entrypoint. Capabilities
 * and privileges are handled by the runtime adapter from `capAdd`
 * (everything else is dropped).
 */
export function buildContainerSpec(options: ContainerSpecOptions): ContainerSpec {
  const { plan, workspace, fingerprint } = options;
  const env: Record<string, string> = {
    ...plan.env,
    PORT: String(plan.port),
    BUCKETSPACE_WORKSPACE: workspace,
    BUCKETSPACE_START: plan.start,
    // Set-but-empty means "install nothing"; the image's default applies only when unset.
    BUCKETSPACE_INSTALL: plan.install ?? '',
    // Outside /tmp, whose tmpfs the engine's archive endpoint cannot read.
    BUCKETSPACE_REPORT_DIR: REPORT_DIR,
  };
  const cache = options.dependencyCache;
  if (cache !== undefined) {
    Object.assign(env, cache.env);
    env.BUCKETSPACE_DEPS_DIR = cache.dir;
    env.BUCKETSPACE_DEPS_KEY = cache.key;
  }
  const binds: ContainerSpec['binds'] = [
    { source: options.hostDir, target: '/workspace', readOnly: true },
  ];
  if (options.caBundle !== undefined) {
    binds.push({
      source: path.resolve(options.caBundle),
      target: CONTAINER_CA_PATH,
      readOnly: true,
    });
    env.BUCKETSPACE_CA_FILE = CONTAINER_CA_PATH;
    env.NODE_EXTRA_CA_CERTS = CONTAINER_CA_PATH;
    env.npm_config_cafile = CONTAINER_CA_PATH;
    env.PIP_CERT = CONTAINER_CA_PATH;
    env.SSL_CERT_FILE = CONTAINER_CA_PATH;
  }
  const labels: Record<string, string> = {
    [LABELS.managedBy]: options.managedBy,
    [LABELS.workspace]: workspace,
  };
  return {
    name: `bucketspace-${workspace}-${fingerprint.slice(0, 8)}-${options.suffix}`,
    image: options.images[plan.type],
    workspace,
    fingerprint,
    type: plan.type,
    port: plan.port,
    env,
    labels: {
      ...labels,
      [LABELS.fingerprint]: fingerprint,
      [LABELS.type]: plan.type,
      [LABELS.port]: String(plan.port),
      ...(cache === undefined ? {} : { [LABELS.dependencyKey]: cache.key }),
    },
    network: options.network,
    binds,
    volumes:
      cache === undefined
        ? []
        : [
            {
              name: cache.volume,
              target: cache.dir,
              labels: { ...labels, [LABELS.dependencyKey]: cache.key },
            },
          ],
    limits: options.limits,
    capAdd: [],
    stopTimeoutSeconds: options.stopTimeoutSeconds,
    replicas: plan.replicas ?? 1,
  };
}
