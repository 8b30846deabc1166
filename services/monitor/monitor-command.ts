import { Command } from 'commander';
import { once } from 'node:events';
import { logLevelOption } from '../common/cli-options.ts';
import { createLogger, type Logger } from '../common/logger.ts';
import { openMountContext, type MountContext } from '../mounts/mount-context.ts';
import { mountsRouter } from '../mounts/mounts-router.ts';
import { configError, resolveSettings, type SettingsOf } from '../common/settings.ts';
import type { CommandIo } from '../common/command-io.ts';
import { DockerRuntime } from './containers/docker-runtime.ts';
import type { ContainerRuntime, HostEngine } from './containers/types.ts';
import { detectWorkspace } from './detect/detect-workspace.ts';
import { TrashListing } from './discovery/trash-listing.ts';
import { WorkspaceScanner } from './discovery/workspace-scanner.ts';
import { createMonitorHttp } from './http/monitor-http.ts';
import { trashRouter } from './http/trash-router.ts';
import { MonitorMetrics } from './http/monitor-metrics.ts';
import { loadOrCreateToken } from './http/token.ts';
import { allowedText } from './isolation/firewall-rules.ts';
import { MONITOR_SETTINGS } from './monitor-settings.ts';
import { Supervisor } from './supervisor/supervisor.ts';
import { SwarmRuntime } from './swarm/swarm-runtime.ts';

interface MonitorFlags {
  port?: string;
  host?: string;
  adminPort?: string;
  adminHost?: string;
  dataDir?: string;
  workspacesMount?: string;
  logLevel?: string;
}

export type MonitorSettings = SettingsOf<typeof MONITOR_SETTINGS>;

export function monitorCommand(io: CommandIo): Command {
  return new Command('monitor')
    .description(
      'Run every workspace under WORKSPACES_MOUNT in its own container, route /<workspace> to it, ' +
        'and serve the dashboard at /monitor on an origin of its own.',
    )
    .option('--port <port>', 'port of the apps (MONITOR_PORT, default 8080)')
    .option('--host <address>', 'address of the apps port (MONITOR_HOST, default 0.0.0.0)')
    .option(
      '--admin-port <port>',
      'port of the dashboard and API (MONITOR_ADMIN_PORT, default 8081)',
    )
    .option(
      '--admin-host <address>',
      'address of the dashboard and API port (MONITOR_ADMIN_HOST, default 127.0.0.1)',
    )
    .option('--data-dir <dir>', 'state directory (MONITOR_DATA_DIR)')
    .option(
      '--workspaces-mount <dir>',
      'the workspaces root (WORKSPACES_MOUNT, default /workspaces)',
    )
    .addOption(logLevelOption())
    .action(async (flags: MonitorFlags) => {
      const settings = resolveSettings(MONITOR_SETTINGS, { env: io.env, flags: { ...flags } });
      const clash = originClash(settings) ?? engineClash(settings);
      if (clash !== undefined) throw configError([clash]);
      await runMonitor(io, settings);
    });
}

/** The admin and the apps must never share an origin: what makes these settings do so, if anything. */
export function originClash(settings: MonitorSettings): string | undefined {
  if (settings.port !== 0 && settings.port === settings.adminPort) {
    return `MONITOR_ADMIN_PORT (${settings.adminPort}) must differ from MONITOR_PORT: the dashboard and the apps need different origins`;
  }
  if (settings.adminUrl !== undefined && settings.adminUrl === settings.appsUrl) {
    return `MONITOR_ADMIN_URL and MONITOR_APPS_URL are the same origin (${settings.adminUrl}): the dashboard needs one no app shares`;
  }
  return undefined;
}

/**
 * The mount manager behind /api/v0/mounts. Mount health is kept by
 * `bucketspace mount daemon`; the monitor only serves the registry, and
 * stopping the monitor leaves every mount alone.
 */
function openMounts(io: CommandIo, logger: Logger): MountContext | undefined {
  try {
    return openMountContext({ env: io.env, logger: logger.child({ component: 'mounts' }) });
  } catch (err) {
    logger.error(
      { err },
      'mount manager unavailable; /api/v0/mounts is off (set MONITOR_MOUNTS=false to silence)',
    );
    return undefined;
  }
}

/**
 * The apps firewall and the disk budget work on the host's own Docker engine;
 * a swarm runs its tasks on other hosts: what makes these settings ask for
 * them there, if anything.
 */
export function engineClash(settings: MonitorSettings): string | undefined {
  if (settings.runtimeEngine !== 'swarm') return undefined;
  const on: string[] = [];
  if (settings.isolation !== 'off') on.push(`RUNTIME_ISOLATION=${settings.isolation}`);
  if (settings.disk !== undefined) on.push('RUNTIME_DISK');
  if (on.length === 0) return undefined;
  return (
    `the apps firewall and the disk budget work on one Docker engine only, not with RUNTIME_ENGINE=swarm (${on.join(', ')}): ` +
    'set RUNTIME_ISOLATION=off and RUNTIME_DISK=off (on a swarm apps are not kept apart and have no disk budget; README, Security)'
  );
}

/** The container runtime RUNTIME_ENGINE names, on the engine of DOCKER_HOST (and that engine, when it is this host's). */
function createRuntime(
  settings: MonitorSettings,
  logger: Logger,
): { runtime: ContainerRuntime; host: HostEngine | undefined } {
  if (settings.runtimeEngine === 'docker') {
    const docker = new DockerRuntime({
      connection: settings.dockerHost,
      logger: logger.child({ component: 'docker' }),
    });
    return { runtime: docker, host: docker };
  }
  const swarm = new SwarmRuntime({
    connection: settings.dockerHost,
    logger: logger.child({ component: 'swarm' }),
    network: settings.network,
    placement: {
      reservations: {
        memoryBytes: settings.swarmMemoryReservation,
        nanoCpus: Math.round(settings.swarmCpusReservation * 1e9),
      },
      constraints: settings.swarmConstraints,
      spreadOver: settings.swarmSpread,
    },
    readyTimeoutMs: settings.readyTimeout,
    healthIntervalMs: settings.swarmHealthInterval,
  });
  return { runtime: swarm, host: undefined };
}

export async function runMonitor(io: CommandIo, settings: MonitorSettings): Promise<void> {
  const logger = createLogger({ level: settings.logLevel, pretty: io.stderr.isTTY === true });
  const log = logger.child({ component: 'monitor' });
  log.info(
    {
      workspacesMount: settings.workspacesMount,
      dataDir: settings.dataDir,
      port: settings.port,
      adminPort: settings.adminPort,
      adminHost: settings.adminHost,
      proxyTimeoutMs: settings.proxyTimeout,
      network: settings.network,
      instance: settings.instance,
      isolation: settings.isolation,
      diskBudget: settings.disk ?? 'off',
      tmpSize: settings.tmpSize,
      networkAllow: settings.networkAllow.map(allowedText),
      runtimeEngine: settings.runtimeEngine,
      domain: settings.domain ?? null,
      images: {
        node: settings.imageNode,
        python: settings.imagePython,
        go: settings.imageGo,
        static: settings.imageStatic,
      },
      token: settings.token === undefined ? 'generated' : '(set)',
    },
    'starting monitor',
  );
  const {
    token,
    created,
    path: tokenFile,
  } = await loadOrCreateToken({
    dataDir: settings.dataDir,
    configured: settings.token,
    logger: log,
  });
  if (created) {
    io.stderr.write(
      `\nbucketspace monitor: generated a dashboard token (shown once; stored in ${tokenFile}):\n\n  ${token}\n\n`,
    );
  }
  const metrics = new MonitorMetrics();
  const { runtime, host } = createRuntime(settings, logger);
  const scanner = new WorkspaceScanner({
    root: settings.workspacesMount,
    logger: logger.child({ component: 'discovery' }),
    extraExcludes: settings.extraExcludes,
    expectMountPoint: settings.requireMount,
  });
  const supervisor = new Supervisor({
    runtime,
    host,
    scanner,
    detect: detectWorkspace,
    logger: logger.child({ component: 'supervisor' }),
    managedBy: settings.instance,
    network: settings.network,
    images: {
      node: settings.imageNode,
      python: settings.imagePython,
      go: settings.imageGo,
      static: settings.imageStatic,
    },
    limits: {
      memoryBytes: settings.memory,
      nanoCpus: Math.round(settings.cpus * 1e9),
      pids: settings.pids,
      tmpBytes: settings.tmpSize,
    },
    hostRoot: settings.hostWorkspacesDir ?? settings.workspacesMount,
    caBundle: settings.caBundle,
    diskBudgetBytes: settings.disk,
    diskCheckIntervalMs: settings.diskCheckInterval,
    dependencyCache: settings.dependencyCache,
    firewall:
      settings.isolation === 'firewall'
        ? { image: settings.firewallImage, allow: settings.networkAllow }
        : undefined,
    dataDir: settings.dataDir,
    pollIntervalMs: settings.pollInterval,
    debounceMs: settings.debounce,
    readyTimeoutMs: settings.readyTimeout,
    stopTimeoutSeconds: Math.round(settings.stopTimeout / 1000),
    hooks: { onRestart: (workspace, reason) => metrics.recordRestart({ workspace, reason }) },
  });
  metrics.observeWorkspaces(() => supervisor.list());
  const mounts = settings.mounts ? openMounts(io, logger) : undefined;
  const http = createMonitorHttp({
    api: supervisor,
    token,
    domain: settings.domain,
    adminUrl: settings.adminUrl,
    appsUrl: settings.appsUrl,
    trustProxy: settings.trustProxy,
    proxyTimeoutMs: settings.proxyTimeout,
    logger: logger.child({ component: 'http' }),
    metrics,
    extraApiRouters: [
      ...(mounts === undefined
        ? []
        : [{ path: '/api/v0/mounts', router: mountsRouter(mounts.manager) }]),
      {
        path: '/api/trash',
        router: trashRouter({
          listing: new TrashListing({ root: settings.workspacesMount }),
          workspaces: () => supervisor.list().map((w) => w.name),
        }),
      },
    ],
  });
  const address = await http.listen({
    apps: { port: settings.port, host: settings.host },
    admin: { port: settings.adminPort, host: settings.adminHost },
  });
  await supervisor.open();
  log.info(
    {
      port: address.apps.port,
      host: address.apps.address,
      adminPort: address.admin.port,
      adminHost: address.admin.address,
    },
    'started monitor',
  );
  if (!io.signal.aborted) await once(io.signal, 'abort');
  log.info('stopping monitor');
  await http.close();
  await supervisor.close();
  mounts?.close();
  log.info('stopped monitor (workspace containers keep running and are adopted at the next start)');
}
