import type Docker from 'dockerode';
import type { ContainerSpec } from './types.ts';

/*
 * How a ContainerSpec reads in the Docker Engine API, for both adapters:
 * a container (docker-runtime.ts) and a Swarm task (swarm/service-spec.ts).
 */

/** The spec's environment as the engine takes it (`NAME=value`). */
export function engineEnv(spec: ContainerSpec): string[] {
  return Object.entries(spec.env).map(([k, v]) => `${k}=${v}`);
}

/** The spec's binds and dependency-cache volumes as engine mounts (containers and Swarm tasks alike). */
export function engineMounts(spec: ContainerSpec): Docker.MountSettings[] {
  return [
    ...spec.binds.map((b) => ({
      Type: 'bind' as const,
      Source: b.source,
      Target: b.target,
      ReadOnly: b.readOnly,
    })),
    ...spec.volumes.map((v) => ({
      Type: 'volume' as const,
      Source: v.name,
      Target: v.target,
      ReadOnly: false,
      VolumeOptions: {
        NoCopy: false,
        Labels: v.labels,
        DriverConfig: { Name: 'local', Options: {} },
      },
    })),
  ];
}

/** Logs kept per workspace container: two files of 10 MB. */
export const ENGINE_LOG_CONFIG = {
  Type: 'json-file',
  Config: { 'max-size': '10m', 'max-file': '2' },
} as const;
