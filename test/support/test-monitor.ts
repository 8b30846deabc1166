import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { startCliProcess, type CliProcess } from './cli-process.ts';
import { fileURLToPath } from 'node:url';
import { docker as dockerCli, inspect } from './docker-cli.ts';
import { cleanupDocker } from './docker.ts';
import { ensureImages } from './images.ts';

/** This checkout: the monitor in a container runs its code. */
const REPOSITORY = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');

export const TEST_MONITOR_TOKEN = `test-token-${randomBytes(12).toString('hex')}`;

/** `bucketspace monitor` in a child process, with its own containers, network and directories. */
export class TestMonitor {
  readonly managedBy: string;
  readonly network: string;
  readonly #extraEnv: () => Record<string, string>;
  root = '';
  workspaces = '';
  /** The apps origin (`/<workspace>/`). */
  base = '';
  /** The admin origin: dashboard, API, mount API. */
  admin = '';
  proc: CliProcess | undefined;

  readonly #inContainer: boolean;

  /**
   * `extraEnv` is read at each start (after init, so it may use the
   * directories). `inContainer`: the monitor runs in a container on its own
   * apps network, as in Compose (this checkout's code with the runtime-node
   * image's Node, the Docker socket and the test directories bound at the
   * same paths); its origins are then its address on that network.
   */
  constructor(
    extraEnv: () => Record<string, string> = () => ({}),
    options: { inContainer?: boolean } = {},
  ) {
    const id = randomBytes(3).toString('hex');
    this.managedBy = `test-monitor-${id}`;
    this.network = `bucketspace-test-${id}`;
    this.#extraEnv = extraEnv;
    this.#inContainer = options.inContainer ?? false;
  }

  /** The monitor's container (inContainer only). */
  get containerName(): string {
    return `${this.managedBy}-monitor`;
  }

  /** Directories, and the apps firewall's image (every test monitor keeps its apps apart). */
  async init(): Promise<void> {
    await ensureImages(['apps-firewall']);
    this.root = await mkdtemp(path.join(tmpdir(), 'bs-monitor-'));
    this.workspaces = path.join(this.root, 'workspaces');
    await mkdir(this.workspaces, { recursive: true });
  }

  async start(): Promise<void> {
    const started = await this.launch({
      WORKSPACES_MOUNT: this.workspaces,
      MONITOR_DATA_DIR: path.join(this.root, 'data'),
      MONITOR_PORT: '0',
      MONITOR_HOST: this.#inContainer ? '0.0.0.0' : '127.0.0.1',
      MONITOR_ADMIN_PORT: '0',
      MONITOR_TOKEN: TEST_MONITOR_TOKEN,
      MONITOR_POLL_INTERVAL: '500ms',
      MONITOR_RESTART_DEBOUNCE: '200ms',
      MONITOR_STOP_TIMEOUT: '5s',
      MONITOR_INSTANCE: this.managedBy,
      MONITOR_NETWORK: this.network,
      MOUNT_REGISTRY: path.join(this.root, 'mounts.db'),
      MOUNT_DIR: path.join(this.root, 'mnt'),
      LOG_LEVEL: 'debug',
      ...(this.#inContainer ? { MONITOR_ADMIN_HOST: '0.0.0.0' } : {}),
      ...this.#extraEnv(),
    });
    this.proc = started.proc;
    this.base = started.base;
    this.admin = started.admin;
  }

  /** Start `bucketspace monitor` with this environment; where its two origins are. */
  protected async launch(
    env: Record<string, string>,
  ): Promise<{ proc: CliProcess; base: string; admin: string }> {
    const proc = await startCliProcess({
      args: ['monitor'],
      env,
      command: this.#inContainer ? await this.#inContainerCommand(env) : undefined,
      readyMessage: 'started monitor',
      readyTimeoutMs: 60_000,
    });
    const ready = proc.lines().find((l) => l.msg === 'started monitor');
    const host = this.#inContainer
      ? await inspect(
          this.containerName,
          `{{(index .NetworkSettings.Networks "${this.network}").IPAddress}}`,
        )
      : '127.0.0.1';
    return {
      proc,
      base: `http://${host}:${String(ready?.port)}`,
      admin: `http://${host}:${String(ready?.adminPort)}`,
    };
  }

  /** `docker run` of this checkout's monitor on the apps network, with `env`. */
  async #inContainerCommand(
    env: Record<string, string>,
  ): Promise<{ file: string; argv: string[] }> {
    await dockerCli(['network', 'inspect', this.network]).catch(() =>
      dockerCli([
        'network',
        'create',
        '--label',
        `bucketspace.managed-by=${this.managedBy}`,
        this.network,
      ]),
    );
    await ensureImages(['runtime-node']);
    const bind = (p: string) => ['-v', `${p}:${p}`];
    return {
      file: 'docker',
      argv: [
        'run',
        '--rm',
        '--name',
        this.containerName,
        '--label',
        `bucketspace.test-monitor=${this.managedBy}`,
        '--network',
        this.network,
        '--user',
        '0',
        '--entrypoint',
        'node',
        ...bind('/var/run/docker.sock'),
        ...bind(REPOSITORY),
        ...bind(this.root),
        ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
        'bucketspace/runtime-node:latest',
        path.join(REPOSITORY, 'services', 'cli.ts'),
        'monitor',
      ],
    };
  }

  /** Remove what the monitor made on the engine (and its container, when it ran in one). */
  protected async cleanup(): Promise<void> {
    if (this.#inContainer) await dockerCli(['rm', '-f', this.containerName]).catch(() => undefined);
    await cleanupDocker(this.managedBy, this.network);
  }

  lines(): ReturnType<CliProcess['lines']> {
    return this.proc?.lines() ?? [];
  }

  readonly api = (p: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${this.admin}${p}`, {
      ...init,
      headers: { authorization: `Bearer ${TEST_MONITOR_TOKEN}`, ...(init.headers ?? {}) },
    });

  readonly view = async (name: string): Promise<{ state: string; [k: string]: unknown }> => {
    const res = await this.api(`/api/workspaces/${name}`);
    assert.equal(res.status, 200, `GET /api/workspaces/${name}`);
    return ((await res.json()) as { workspace: { state: string } }).workspace;
  };

  readonly appText = async (name: string): Promise<string> => {
    const res = await fetch(`${this.base}/${name}/hello?x=1`);
    return `${res.status} ${await res.text()}`;
  };

  /** The dashboard in headless Chromium, logged in. */
  async dashboard(use: (page: Page) => Promise<void>): Promise<void> {
    const profile = await mkdtemp(path.join(tmpdir(), 'bs-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      viewport: { width: 1360, height: 600 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-quic',
        '--disable-sync',
      ],
    });
    try {
      const page = await context.newPage();
      await page.goto(`${this.admin}/monitor`);
      await page.getByLabel('Token').fill(TEST_MONITOR_TOKEN);
      await page.getByRole('button', { name: 'Log in' }).click();
      await use(page);
    } finally {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    }
  }

  async close(): Promise<void> {
    await this.proc?.stop();
    await this.cleanup();
    if (this.root !== '') await rm(this.root, { recursive: true, force: true });
  }
}
