// The real Compose stack of this repository, brought up by the end-to-end
// test with testcontainers' DockerComposeEnvironment (health-check waits,
// Compose v2 `docker compose` or v1 `docker-compose`), from the repository's
// Compose files plus, for the variants with the local S3 server, the
// test-only override that runs s3rver in place of it (no image can be pulled
// here). Each stack gets its own project name, ports, network, monitor
// instance label and host mount directory, so nothing it touches belongs to
// anything else on the machine.
//
// s3rver 3.7.1 quirk: a delimiter listing (`ListObjectsV2` with `/`) leaves
// out a prefix whose objects are all nested deeper (a workspace holding only
// `public/index.html`), so the mount never shows that workspace; real S3
// servers list it. Tests that run on s3rver give every workspace a top-level
// file (see test/stack-e2e-*.test.ts).
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import { DockerComposeEnvironment, type StartedDockerComposeEnvironment } from 'testcontainers';
import { cleanupDocker, docker } from './docker.ts';
// The local images only: testcontainers' reaper image cannot be pulled here.
import './local-container.ts';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface ComposeVersion {
  name: 'v2' | 'v1';
  /** `['docker', 'compose']` or `['docker-compose']`. */
  command: string[];
}

const V2: ComposeVersion = { name: 'v2', command: ['docker', 'compose'] };
const V1: ComposeVersion = { name: 'v1', command: ['docker-compose'] };

function answers(command: string[]): boolean {
  try {
    execFileSync(command[0]!, [...command.slice(1), 'version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The Compose versions this machine has, v2 first. */
export function composeVersions(): ComposeVersion[] {
  return [V2, V1].filter((v) => answers(v.command));
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The address containers reach the host on: the host's own address on the
 * default bridge (docker0), where the test's "outside" S3 listens.
 */
export async function hostGateway(): Promise<string> {
  const bridge = (await docker.getNetwork('bridge').inspect()) as {
    Options?: Record<string, string>;
  };
  const name = bridge.Options?.['com.docker.network.bridge.name'] ?? 'docker0';
  // (os.networkInterfaces() leaves out a bridge with no container on it.)
  const shown = execFileSync('ip', ['-4', '-o', 'addr', 'show', 'dev', name], { encoding: 'utf8' });
  const address = /\binet (\d+\.\d+\.\d+\.\d+)\//.exec(shown)?.[1];
  if (address === undefined) throw new Error(`no IPv4 address on ${name}: ${shown}`);
  return address;
}

export interface ComposeResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CreateOptions {
  /** Compose files after docker-compose.yml (e.g. docker-compose.s3fs.yml). */
  files?: string[];
  /** Settings, over the stack's generated ones. */
  env?: Record<string, string>;
  compose?: ComposeVersion;
  /** Run s3rver in place of the local S3 server (default true; false with your own S3). */
  s3rver?: boolean;
}

/** Every variable the repository's Compose files read. */
async function composeVariables(files: string[]): Promise<string[]> {
  const names = new Set<string>(['COMPOSE_PROFILES', 'COMPOSE_FILE']);
  for (const file of files) {
    for (const [, name] of (await readFile(file, 'utf8')).matchAll(/\$\{([A-Z0-9_]+)/g)) {
      names.add(name!);
    }
  }
  return [...names];
}

/** docker-compose.yml, then `files`, then (unless `s3rver` is false) the test's S3 override: absolute paths. */
function composeFiles(files: string[], s3rver: boolean | undefined): string[] {
  return [
    'docker-compose.yml',
    ...files,
    ...(s3rver === false ? [] : ['test/e2e/docker-compose.s3rver.yml']),
  ].map((f) => join(REPO, f));
}

/** testcontainers rejects with Compose's `{ exitCode, err }` result, not an Error. */
function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  const r = err as { exitCode?: number; err?: string };
  return `exit ${r.exitCode ?? '?'}: ${r.err ?? String(err)}`;
}

export class ComposeStack {
  readonly project: string;
  readonly dir: string;
  readonly mountRoot: string;
  readonly workspacesDir: string;
  readonly env: Record<string, string>;
  /** Absolute paths of the Compose files, in order. */
  readonly files: string[];
  readonly version: ComposeVersion;
  #variables: string[];
  #started: StartedDockerComposeEnvironment | undefined;

  private constructor(init: {
    project: string;
    dir: string;
    env: Record<string, string>;
    files: string[];
    version: ComposeVersion;
    variables: string[];
  }) {
    this.project = init.project;
    this.dir = init.dir;
    this.mountRoot = join(init.dir, 'mnt');
    this.workspacesDir = join(init.dir, 'workspaces');
    this.env = init.env;
    this.files = init.files;
    this.version = init.version;
    this.#variables = init.variables;
  }

  /** A stack in a fresh temp dir, with its own ports, names and shared mount root. */
  static async create(name: string, options: CreateOptions = {}): Promise<ComposeStack> {
    const version = options.compose ?? composeVersions()[0] ?? V1;
    const project = `bse2e${name}${version.name}${randomBytes(3).toString('hex')}`;
    const dir = await mkdtemp(join(tmpdir(), `bucketspace-e2e-${name}-`));
    const mountRoot = join(dir, 'mnt');
    await mkdir(mountRoot, { recursive: true });
    await mkdir(join(dir, 'workspaces'), { recursive: true });
    // The host's / is private here (as on hosts without systemd): make the
    // mount root a shared mount, as scripts/setup-s3-mount.sh does.
    execFileSync('mount', ['--bind', mountRoot, mountRoot]);
    execFileSync('mount', ['--make-shared', mountRoot]);
    const env: Record<string, string> = {
      COMPOSE_PROJECT_NAME: project,
      MINIO_ROOT_USER: `e2e-${randomBytes(4).toString('hex')}`,
      MINIO_ROOT_PASSWORD: randomBytes(16).toString('hex'),
      MINIO_API_PORT: String(await freePort()),
      MINIO_CONSOLE_PORT: String(await freePort()),
      MONITOR_PORT: String(await freePort()),
      MONITOR_ADMIN_PORT: String(await freePort()),
      MONITOR_TOKEN: randomBytes(16).toString('hex'),
      MONITOR_NETWORK: `${project}-apps`,
      MONITOR_INSTANCE: project,
      BUCKETSPACE_MOUNT_ROOT: mountRoot,
      WORKSPACES_DIR: join(dir, 'workspaces'),
      ...options.env,
    };
    const files = composeFiles(options.files ?? [], options.s3rver);
    const variables = await composeVariables(files);
    return new ComposeStack({ project, dir, env, files, version, variables });
  }

  /**
   * The same project (name, settings, volumes, mount root) with other Compose
   * files: a user switching variants. Bring this one down first (`compose
   * down`, volumes kept), then `up()` the returned one.
   */
  async withFiles(files: string[], options: { s3rver?: boolean } = {}): Promise<ComposeStack> {
    const all = composeFiles(files, options.s3rver);
    return new ComposeStack({
      project: this.project,
      dir: this.dir,
      env: this.env,
      files: all,
      version: this.version,
      variables: await composeVariables(all),
    });
  }

  /**
   * What Compose runs with: this stack's settings, every other variable the
   * files read set empty (their defaults apply), so no S3_*, MINIO_* or
   * COMPOSE_* of the machine leaks into the stack.
   */
  composeEnv(): Record<string, string> {
    const blank = Object.fromEntries(this.#variables.map((v) => [v, '']));
    delete blank.COMPOSE_FILE;
    return { ...blank, ...this.env };
  }

  /** COMPOSE_FILE for this stack's files (for scripts that read it as users' .env does). */
  composeFileSetting(): string {
    return this.files.join(':');
  }

  /**
   * `compose up -d` through testcontainers: returns once every started
   * container with a health check is healthy (the S3 server, the mount, the
   * monitor) and the others listen on their ports.
   */
  async up(options: { timeoutMs?: number } = {}): Promise<void> {
    // testcontainers picks each container's wait: its health check when it
    // has one (the S3 server, the mount, the monitor), else its ports. Its
    // timeout stays under the test runner's (300 s), so a stack that does
    // not come up fails with the services' logs instead of being cancelled.
    let environment = new DockerComposeEnvironment(REPO, this.files)
      .withProjectName(this.project)
      .withEnvironment(this.composeEnv())
      .withStartupTimeout(options.timeoutMs ?? 180_000);
    if (this.version.name === 'v1') {
      environment = environment.withClientOptions({
        executable: { standalone: true, executablePath: 'docker-compose' },
      });
    }
    try {
      this.#started = await environment.up();
    } catch (err) {
      const logs = await this.compose(['logs', '--no-color', '--tail', '40']);
      throw new Error(
        `compose up failed: ${errorText(err)}\n--- service logs ---\n${logs.stdout}`,
        {
          cause: err,
        },
      );
    }
  }

  /** Runs Compose with this stack's files and environment; never rejects. */
  compose(
    args: string[],
    options: { timeoutMs?: number; files?: boolean; env?: Record<string, string> } = {},
  ): Promise<ComposeResult> {
    const [bin, ...pre] = this.version.command;
    const fileArgs = options.files === false ? [] : this.files.flatMap((f) => ['-f', f]);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
      ...this.composeEnv(),
      ...options.env,
    };
    return new Promise((resolve) => {
      execFile(
        bin!,
        [...pre, ...fileArgs, ...args],
        { cwd: REPO, env, timeout: options.timeoutMs ?? 600_000, maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          const code =
            err === null ? 0 : typeof err.code === 'number' ? err.code : err.killed ? 124 : 1;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  async mustCompose(args: string[], timeoutMs?: number): Promise<ComposeResult> {
    const r = await this.compose(args, { timeoutMs });
    if (r.code !== 0) {
      const logs = await this.compose(['logs', '--no-color', '--tail', '40']);
      throw new Error(
        `compose ${args.join(' ')} exited ${r.code}:\n${r.stderr}\n--- service logs ---\n${logs.stdout}`,
      );
    }
    return r;
  }

  /** Every container of the project (exited one-shots too), by its Compose labels. */
  async containers(service?: string): Promise<Array<{ Id: string; State: string }>> {
    const label = [`com.docker.compose.project=${this.project}`];
    if (service !== undefined) label.push(`com.docker.compose.service=${service}`);
    return docker.listContainers({ all: true, filters: { label } });
  }

  /** The container of a service (the same with Compose v1 and v2). */
  async containerOf(service: string): Promise<string> {
    const [found] = await this.containers(service);
    if (found === undefined) throw new Error(`service ${service} has no container`);
    return found.Id;
  }

  /** The project's volumes, by Compose label. */
  async volumes(): Promise<string[]> {
    const { Volumes } = await docker.listVolumes({
      filters: { label: [`com.docker.compose.project=${this.project}`] },
    });
    return (Volumes ?? []).map((v) => v.Name).sort();
  }

  /** The apps' routes (MONITOR_PORT). */
  url(path: string): string {
    return `http://127.0.0.1:${this.env.MONITOR_PORT}${path}`;
  }

  /** The dashboard, the API and the mount API (MONITOR_ADMIN_PORT), an origin no app shares. */
  adminUrl(path: string): string {
    return `http://127.0.0.1:${this.env.MONITOR_ADMIN_PORT}${path}`;
  }

  /** A call of the monitor's API with its token. */
  api(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(this.adminUrl(path), {
      ...init,
      headers: { authorization: `Bearer ${this.env.MONITOR_TOKEN}`, ...init.headers },
      signal: init.signal ?? AbortSignal.timeout(10_000),
    });
  }

  s3(): S3Client {
    return new S3Client({
      endpoint: `http://127.0.0.1:${this.env.MINIO_API_PORT}`,
      region: 'us-east-1',
      credentials: {
        accessKeyId: this.env.MINIO_ROOT_USER!,
        secretAccessKey: this.env.MINIO_ROOT_PASSWORD!,
      },
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /**
   * Everything goes: the monitor first (so it recreates nothing), the
   * workspace containers it left running (they outlive the monitor by
   * design), the stack with its volumes, the mounts and the temp dir.
   */
  async destroy(): Promise<void> {
    await this.compose(['stop', '-t', '5', 'monitor']);
    await cleanupDocker(this.env.MONITOR_INSTANCE!, this.env.MONITOR_NETWORK!);
    if (this.#started !== undefined) {
      await this.#started.down({ timeout: 5_000, removeVolumes: true }).catch(() => undefined);
    }
    await this.compose(['down', '-v', '--remove-orphans', '-t', '5']);
    await cleanupDocker(this.env.MONITOR_INSTANCE!, this.env.MONITOR_NETWORK!);
    for (const volume of await this.volumes()) {
      await docker
        .getVolume(volume)
        .remove()
        .catch(() => undefined);
    }
    // The bucket's mount, then the shared bind of the mount root (which may
    // be stacked more than once): detach until neither is a mount point.
    for (const target of [join(this.mountRoot, 'workspaces'), this.mountRoot]) {
      for (let i = 0; i < 5; i++) {
        try {
          execFileSync('mountpoint', ['-q', target], { stdio: 'ignore' });
          execFileSync('umount', ['-l', target], { stdio: 'ignore' });
        } catch {
          break; // not (or no longer) a mount point
        }
      }
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
