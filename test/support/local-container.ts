// testcontainers on this machine's images only. Nothing can be pulled on the
// test machines: the reaper is off (its image, testcontainers/ryuk, comes from
// Docker Hub; the tests remove what they start, by label) and containers never
// pull (an image that is not here is an error naming it; build it with
// scripts/build-local-images.sh). Decision 0018.
import type { Readable } from 'node:stream';
import type { DeviceMapping } from 'dockerode';
import { GenericContainer, PullPolicy, type StartedTestContainer } from 'testcontainers';

process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
// Published ports are checked where the tests reach them: on this host's
// loopback (the stacks bind 127.0.0.1). Without this, a machine that has a
// /.dockerenv file (a CI sandbox) makes testcontainers dial the bridge
// gateway, 172.17.0.1, and a port bound to 127.0.0.1 is never seen open: the
// wait for the HTTPS front hung until the suite timed out. An explicit
// TESTCONTAINERS_HOST_OVERRIDE (a remote DOCKER_HOST) still wins.
process.env.TESTCONTAINERS_HOST_OVERRIDE ??= '127.0.0.1';

/**
 * A `GenericContainer` that never pulls, with what its API lacks here:
 * - `withDevices`: testcontainers 12 has no device option (`docker run
 *   --device`), so this subclass writes the device mappings into the
 *   `hostConfig` it builds, the way its own modules extend it; likewise
 *   `withNamedVolume` (it binds host paths only);
 * - a start that fails (its wait strategy gives up, or it exits) says what the
 *   container printed: testcontainers removes it before the test could ask.
 */
export class LocalContainer extends GenericContainer {
  private output = '';

  constructor(image: string) {
    super(image);
    this.withPullPolicy(PullPolicy.neverPull());
    this.withLogConsumer((stream: Readable) =>
      stream.on('data', (chunk: string) => {
        this.output += chunk;
      }),
    );
  }

  /** `docker run --device <path>` for each path, at the same path inside, read-write-mknod. */
  withDevices(...paths: string[]): this {
    this.hostConfig.Devices = [
      ...((this.hostConfig.Devices as DeviceMapping[] | undefined) ?? []),
      ...paths.map((path): DeviceMapping => ({
        PathOnHost: path,
        PathInContainer: path,
        CgroupPermissions: 'rwm',
      })),
    ];
    return this;
  }

  /** `docker run --mount type=volume,source=<name>,target=<path>`: testcontainers mounts only host paths. */
  withNamedVolume(name: string, target: string): this {
    this.hostConfig.Mounts = [
      ...(this.hostConfig.Mounts ?? []),
      { Type: 'volume', Source: name, Target: target },
    ];
    return this;
  }

  override async start(): Promise<StartedTestContainer> {
    try {
      return await super.start();
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      const output = this.output ? `\n--- what it printed ---\n${this.output}` : '';
      throw new Error(`${this.imageName.string} did not start: ${reason}${output}`, { cause: err });
    }
  }
}

/** Everything a stopped container printed, stdout and stderr as they came (the stream follows a running one). */
export async function printed(container: StartedTestContainer): Promise<string> {
  let text = '';
  for await (const chunk of await container.logs()) text += String(chunk);
  return text;
}
