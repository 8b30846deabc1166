// The real Compose stack of this repository, brought up by the end-to-end
// test: `docker compose` (v2) when present, else `docker-compose` (v1), with
// the repository's Compose files plus the test-only override that runs s3rver
// in place of MinIO. Each stack gets its own project name, ports, network,
// monitor instance label and host mount directory, so nothing it touches
// belongs to anything else on the machine.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { S3Client } from '@aws-sdk/client-s3';
import { cleanupDocker } from './docker.ts';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** `['docker', 'compose']` or `['docker-compose']`, whichever this machine has. */
export function composeCommand(): string[] {
  try {
    execFileSync('docker', ['compose', 'version'], { stdio: 'ignore' });
    return ['docker', 'compose'];
  } catch {
    return ['docker-compose'];
  }
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

export interface ComposeResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class ComposeStack {
  readonly project: string;
  readonly dir: string;
  readonly mountRoot: string;
  readonly workspacesDir: string;
  readonly env: Record<string, string>;
  readonly files: string[];
  readonly #command = composeCommand();

  private constructor(init: {
    project: string;
    dir: string;
    env: Record<string, string>;
    files: string[];
  }) {
    this.project = init.project;
    this.dir = init.dir;
    this.mountRoot = join(init.dir, 'mnt');
    this.workspacesDir = join(init.dir, 'workspaces');
    this.env = init.env;
    this.files = init.files;
  }

  /**
   * A stack in a fresh temp dir. `variantFiles` are Compose files added after
   * docker-compose.yml (e.g. docker-compose.s3fs.yml); `extraEnv` overrides.
   */
  static async create(
    name: string,
    variantFiles: string[],
    extraEnv: Record<string, string> = {},
  ): Promise<ComposeStack> {
    const project = `bse2e${name}${randomBytes(3).toString('hex')}`;
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
      MONITOR_TOKEN: randomBytes(16).toString('hex'),
      MONITOR_NETWORK: `${project}-apps`,
      MONITOR_INSTANCE: project,
      BUCKETSPACE_MOUNT_ROOT: mountRoot,
      WORKSPACES_DIR: join(dir, 'workspaces'),
      ...extraEnv,
    };
    const files = ['docker-compose.yml', ...variantFiles, 'test/e2e/docker-compose.s3rver.yml'].map(
      (f) => join(REPO, f),
    );
    return new ComposeStack({ project, dir, env, files });
  }

  /** Runs Compose with this stack's files and environment; never rejects. */
  compose(args: string[], options: { timeoutMs?: number } = {}): Promise<ComposeResult> {
    const [bin, ...pre] = this.#command;
    const argv = [...pre, ...this.files.flatMap((f) => ['-f', f]), ...args];
    // Only what Compose needs from the test's environment: no S3_* or
    // MINIO_* of the machine leak into the stack.
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
      ...this.env,
    };
    return new Promise((resolve) => {
      execFile(
        bin!,
        argv,
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

  /** The container of a service (Compose v1 and v2 both answer `ps -q`). */
  async containerOf(service: string): Promise<string> {
    const r = await this.mustCompose(['ps', '-q', service]);
    const id = r.stdout.trim().split('\n')[0] ?? '';
    if (id === '') throw new Error(`service ${service} has no container`);
    return id;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.env.MONITOR_PORT}${path}`;
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
    await this.compose(['down', '-v', '--remove-orphans', '-t', '5']);
    await cleanupDocker(this.env.MONITOR_INSTANCE!, this.env.MONITOR_NETWORK!);
    for (const target of [join(this.mountRoot, 'workspaces'), this.mountRoot]) {
      try {
        execFileSync('umount', ['-l', target], { stdio: 'ignore' });
      } catch {
        // not mounted
      }
    }
    try {
      execFileSync('umount', ['-l', this.mountRoot], { stdio: 'ignore' });
    } catch {
      // the shared bind is gone
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
