import { BucketspaceError } from '../../common/errors.ts';

export type DockerConnection =
  { socketPath: string } | { protocol: 'http'; host: string; port: number };

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

/**
 * Where the Docker engine is, from a DOCKER_HOST value as the docker CLI
 * reads it: unset -> the default socket, `unix:///path`, or `tcp://host:port`
 * (plain HTTP; put TLS in front with a socket proxy, see the README).
 */
export function parseDockerHost(value: string | undefined): DockerConnection {
  if (value === undefined || value === '') return { socketPath: DEFAULT_DOCKER_SOCKET };
  if (value.startsWith('unix://')) {
    const socketPath = value.slice('unix://'.length);
    return { socketPath: socketPath === '' ? DEFAULT_DOCKER_SOCKET : socketPath };
  }
  if (value.startsWith('/')) return { socketPath: value };
  const withScheme = value.includes('://') ? value : `tcp://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw invalid(value, 'not a URL');
  }
  if (url.protocol !== 'tcp:' && url.protocol !== 'http:') {
    throw invalid(
      value,
      `scheme ${url.protocol.replace(':', '')} is not supported (use unix:// or tcp://)`,
    );
  }
  if (url.hostname === '') throw invalid(value, 'no host');
  const port = url.port === '' ? 2375 : Number(url.port);
  return { protocol: 'http', host: url.hostname, port };
}

function invalid(value: string, why: string): BucketspaceError {
  return new BucketspaceError('CONFIG_INVALID', `DOCKER_HOST ${JSON.stringify(value)}: ${why}`);
}
