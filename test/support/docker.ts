import Docker from 'dockerode';
import { firewallChains } from '../../services/monitor/isolation/firewall-rules.ts';
import { docker as dockerCli } from './docker-cli.ts';

/** The engine the tests use: the default socket (or DOCKER_HOST as the docker CLI reads it). */
export const docker = new Docker();

export async function dockerAvailable(): Promise<boolean> {
  try {
    await docker.ping();
    return true;
  } catch {
    return false;
  }
}

/** Every container with the label (`key=value`), running or not. */
export function containersWith(label: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [label] } });
}

export function containersOf(managedBy: string): Promise<Docker.ContainerInfo[]> {
  return containersWith(`bucketspace.managed-by=${managedBy}`);
}

/** Remove every container with the label (`key=value`), running or not. */
export async function removeContainers(label: string): Promise<void> {
  for (const c of await containersWith(label)) {
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => undefined);
  }
}

/** The dependency-cache volumes a test monitor made. */
export async function volumesOf(managedBy: string): Promise<Docker.VolumeInspectInfo[]> {
  const listed = await docker.listVolumes({
    filters: { label: [`bucketspace.managed-by=${managedBy}`] },
  });
  return listed.Volumes;
}

/** Remove the apps firewall's chains of a network, and the jumps to them (images/apps-firewall, `remove`). */
export async function removeFirewall(network: string): Promise<void> {
  const { forward, input } = firewallChains(network);
  await dockerCli([
    'run',
    '--rm',
    '--network',
    'host',
    '--cap-drop',
    'ALL',
    '--cap-add',
    'NET_ADMIN',
    '--cap-add',
    'NET_RAW',
    '-e',
    `FIREWALL_CHAINS=${forward} ${input}`,
    'bucketspace/apps-firewall:latest',
    'remove',
  ]);
}

/** Remove every container a test monitor made, its volumes, its network and its firewall rules. */
export async function cleanupDocker(managedBy: string, network: string): Promise<void> {
  await removeContainers(`bucketspace.managed-by=${managedBy}`);
  for (const v of await volumesOf(managedBy)) {
    await docker
      .getVolume(v.Name)
      .remove()
      .catch(() => undefined);
  }
  await docker
    .getNetwork(network)
    .remove()
    .catch(() => undefined);
  await removeFirewall(network);
}
