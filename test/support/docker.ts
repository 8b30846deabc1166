import Docker from 'dockerode';

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

/** Remove every container a test monitor made, its volumes, and its network. */
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
}
