import { Command, Option } from 'commander';
import { once } from 'node:events';
import { createLogger, type Logger } from '../common/logger.ts';
import { openMountContext, type MountContext } from '../mounts/mount-context.ts';
import { mountsRouter } from '../mounts/mounts-router.ts';
import { resolveSettings, type SettingsOf } from '../common/settings.ts';
import type { CommandIo } from '../sync/sync-command.ts';
import { DockerRuntime } from './containers/docker-runtime.ts';
import { detectWorkspace } from './detect/detect-workspace.ts';
import { WorkspaceScanner } from './discovery/workspace-scanner.ts';
import { createMonitorHttp } from './http/monitor-http.ts';
import { MonitorMetrics } from './http/monitor-metrics.ts';
import { loadOrCreateToken } from './http/token.ts';
import { MONITOR_SETTINGS } from './monitor-settings.ts';
import { Supervisor } from './supervisor/supervisor.ts';

interface MonitorFlags {
  port?: string;
  host?: string;
  dataDir?: string;
  workspacesMount?: string;
  logLevel?: string;
}

export type MonitorSettings = SettingsOf<typeof MONITOR_SETTINGS>;

export function monitorCommand(io: CommandIo): Command {
  return new Command('monitor')
    .description(
      'Run every workspace under WORKSPACES_MOUNT in its own container, route /<workspace> to it, ' +
        'and serve the dashboard at /monitor.',
    )
    .option('--port <port>', 'port to listen on (MONITOR_PORT, default 8080)')
    .option('--host <address>', 'address to listen on (MONITOR_HOST, default 0.0.0.0)')
    .option('--data-dir <dir>', 'state directory (MONITOR_DATA_DIR)')
    .option(
      '--workspaces-mount <dir>',
      'the workspaces root (WORKSPACES_MOUNT, default /workspaces)',
    )
    .addOption(
      new Option('--log-level <level>', 'log level (LOG_LEVEL)').choices([
        'trace',
        'debug',
        'info',
        'warn',
        'error',
        'silent',
      ]),
    )
    .action(async (flags: MonitorFlags) => {
      const settings = resolveSettings(MONITOR_SETTINGS, { env: io.env, flags: { ...flags } });
      await runMonitor(io, settings);
    });
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

export async function runMonitor(io: CommandIo, settings: MonitorSettings): Promise<void> {
  const logger = createLogger({ level: settings.logLevel, pretty: io.stderr.isTTY === true });
  const log = logger.child({ component: 'monitor' });
  log.info(
    {
      workspacesMount: settings.workspacesMount,
      dataDir: settings.dataDir,
      port: settings.port,
      network: settings.network,
      instance: settings.instance,
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
  const runtime = new DockerRuntime({
    connection: settings.dockerHost,
    logger: logger.child({ component: 'docker' }),
  });
  const scanner = new WorkspaceScanner({
    root: settings.workspacesMount,
    logger: logger.child({ component: 'discovery' }),
    extraExcludes: settings.extraExcludes,
    expectMountPoint: settings.requireMount,
  });
  const supervisor = new Supervisor({
    runtime,
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
    },
    hostRoot: settings.hostWorkspacesDir ?? settings.workspacesMount,
    caBundle: settings.caBundle,
    dependencyCache: settings.dependencyCache,
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
    trustProxy: settings.trustProxy,
    logger: logger.child({ component: 'http' }),
    metrics,
    extraApiRouters:
      mounts === undefined
        ? []
        : [{ path: '/api/v0/mounts', router: mountsRouter(mounts.manager) }],
  });
  const address = await http.listen(settings.port, settings.host);
  await supervisor.open();
  log.info({ port: address.port, host: address.address }, 'started monitor');
  if (!io.signal.aborted) await once(io.signal, 'abort');
  log.info('stopping monitor');
  await http.close();
  await supervisor.close();
  mounts?.close();
  log.info('stopped monitor (workspace containers keep running and are adopted at the next start)');
}
