import { join, resolve } from 'node:path';
import { z } from 'zod';
import { booleanSchema, durationSchema, intSchema, setting } from '../common/settings.ts';
import { defaultStateDir } from '../common/state-dir.ts';
import { SYNC_SETTINGS } from '../sync/sync-settings.ts';
import { parseDockerHost } from './containers/docker-host.ts';
import { tokenProblem } from './http/token.ts';
import { parseAllowedDestination, type AllowedDestination } from './isolation/firewall-rules.ts';

/** `10.0.0.5:5432, 192.168.1.0/24`: private destinations apps may reach all the same. */
const allowListSchema = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const out: AllowedDestination[] = [];
    for (const item of (v ?? '').split(',').map((x) => x.trim())) {
      if (item === '') continue;
      const parsed = parseAllowedDestination(item);
      if (parsed === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `${JSON.stringify(item)} is not an IPv4 address or network, with an optional :port (10.0.0.5, 10.0.0.0/24, 10.0.0.5:5432)`,
        });
        return z.NEVER;
      }
      out.push(parsed);
    }
    return out;
  });

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** `512m`, `1g`, `1.5G`, `268435456`: a memory size in bytes. */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([bkmg]?)i?b?\s*$/i.exec(text);
  if (!m) return undefined;
  const unit = SIZE_UNITS[(m[2] ?? '').toLowerCase()] ?? 1;
  return Math.round(Number(m[1]) * unit);
}

function sizeSchema(minBytes: number, fallback: string) {
  return z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      const bytes = parseSize(v);
      if (bytes === undefined || bytes < minBytes) {
        ctx.addIssue({
          code: 'custom',
          message: `must be a size like 256m or 1g (at least ${minBytes / 1024 ** 2}m)`,
        });
        return z.NEVER;
      }
      return bytes;
    });
}

/** RUNTIME_DISK: a size, or `off` (undefined: no budget). */
const diskBudgetSchema = z
  .string()
  .default('2g')
  .transform((v, ctx) => {
    if (v.trim().toLowerCase() === 'off') return undefined;
    const bytes = parseSize(v);
    if (bytes === undefined || bytes < 16 * 1024 ** 2) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be a size like 512m or 2g (at least 16m), or off',
      });
      return z.NEVER;
    }
    return bytes;
  });

function defaultDataDir(): string {
  return join(defaultStateDir(), 'monitor');
}

function image(type: string) {
  return setting({
    env: `RUNTIME_IMAGE_${type.toUpperCase()}`,
    description: `Image that runs ${type} workspaces.`,
    defaultText: `bucketspace/runtime-${type}:latest`,
    schema: z.string().min(1).default(`bucketspace/runtime-${type}:latest`),
  });
}

const domainSchema = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === '') return undefined;
    const d = v.trim().toLowerCase().replace(/\.$/, '');
    if (
      !/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(
        d,
      )
    ) {
      ctx.addIssue({ code: 'custom', message: 'must be a host name like apps.example.com' });
      return z.NEVER;
    }
    return d;
  });

/** A public origin (`https://monitor.example.com`): scheme, host and port only, normalized. */
const originSchema = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v === '') return undefined;
    let url: URL;
    try {
      url = new URL(v.trim());
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a URL like https://monitor.example.com' });
      return z.NEVER;
    }
    if (
      (url.protocol !== 'http:' && url.protocol !== 'https:') ||
      url.username !== '' ||
      url.password !== '' ||
      (url.pathname !== '/' && url.pathname !== '') ||
      url.search !== '' ||
      url.hash !== ''
    ) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be an origin: http(s)://host[:port], without a path, query or credentials',
      });
      return z.NEVER;
    }
    return url.origin;
  });

export const MONITOR_SETTINGS = {
  workspacesMount: setting({
    env: 'WORKSPACES_MOUNT',
    flag: '--workspaces-mount',
    description:
      'Directory whose subdirectories are the workspaces the monitor runs (usually the bucket mount).',
    defaultText: '/workspaces',
    schema: z
      .string()
      .min(1)
      .default('/workspaces')
      .transform((p) => resolve(p)),
  }),
  hostWorkspacesDir: setting({
    env: 'RUNTIME_WORKSPACES_HOST_DIR',
    description:
      'The same directory as the Docker engine sees it, for bind mounts (set when the monitor runs in a container).',
    defaultText: 'WORKSPACES_MOUNT',
    schema: z
      .string()
      .optional()
      .transform((p) => (p === undefined || p === '' ? undefined : resolve(p))),
  }),
  requireMount: setting({
    env: 'MONITOR_REQUIRE_MOUNT',
    description:
      'Treat WORKSPACES_MOUNT as unavailable unless it is a mount point (an unmounted FUSE directory looks empty).',
    defaultText: 'false',
    schema: booleanSchema().default(false),
  }),
  /** The same exclude patterns as the sync service, so both see the same files. */
  extraExcludes: SYNC_SETTINGS.extraExcludes,
  pollInterval: setting({
    env: 'MONITOR_POLL_INTERVAL',
    description: 'How often the workspaces are rescanned (a FUSE mount raises no change events).',
    defaultText: '5s',
    schema: durationSchema(100).default(5000),
  }),
  debounce: setting({
    env: 'MONITOR_RESTART_DEBOUNCE',
    description: 'Quiet time after a change before the workspace is restarted (bursts coalesce).',
    defaultText: '1s',
    schema: durationSchema(0).default(1000),
  }),
  readyTimeout: setting({
    env: 'MONITOR_READY_TIMEOUT',
    description: 'How long a new container may take (copy, install, start) to answer on its port.',
    defaultText: '5m',
    schema: durationSchema(1000).default(300_000),
  }),
  stopTimeout: setting({
    env: 'MONITOR_STOP_TIMEOUT',
    description: 'Grace period between SIGTERM and SIGKILL when a container is stopped.',
    defaultText: '10s',
    schema: durationSchema(0).default(10_000),
  }),
  port: setting({
    env: 'MONITOR_PORT',
    flag: '--port',
    description:
      'Port of the apps: /<workspace>/ and <workspace>.<DOMAIN> (0: any free port, logged at start). Never the dashboard or API.',
    defaultText: '8080',
    schema: intSchema(0, 65535).default(8080),
  }),
  host: setting({
    env: 'MONITOR_HOST',
    flag: '--host',
    description: 'Address the apps port listens on.',
    defaultText: '0.0.0.0',
    schema: z.string().min(1).default('0.0.0.0'),
  }),
  adminPort: setting({
    env: 'MONITOR_ADMIN_PORT',
    flag: '--admin-port',
    description:
      'Port of the dashboard, REST API, mount API and metrics: an origin no app shares (0: any free port, logged at start).',
    defaultText: '8081',
    schema: intSchema(0, 65535).default(8081),
  }),
  adminHost: setting({
    env: 'MONITOR_ADMIN_HOST',
    flag: '--admin-host',
    description: 'Address the admin port listens on (loopback: this machine only).',
    defaultText: '127.0.0.1',
    schema: z.string().min(1).default('127.0.0.1'),
  }),
  adminUrl: setting({
    env: 'MONITOR_ADMIN_URL',
    description:
      "The dashboard's origin as browsers reach it, when a proxy or a published port hides it (e.g. https://monitor.example.com). Default: monitor.<DOMAIN>, else the request's host on MONITOR_ADMIN_PORT.",
    defaultText: '(derived)',
    schema: originSchema,
  }),
  appsUrl: setting({
    env: 'MONITOR_APPS_URL',
    description:
      "The apps' origin as browsers reach it, for the dashboard's links (e.g. https://apps.example.com). Default: <workspace>.<DOMAIN>, else the request's host on MONITOR_PORT.",
    defaultText: '(derived)',
    schema: originSchema,
  }),
  proxyTimeout: setting({
    env: 'MONITOR_PROXY_TIMEOUT',
    description:
      'How long an app may take to start answering a request it has been sent before the visitor gets a 504 page (streams it has started are never cut).',
    defaultText: '60s',
    schema: durationSchema(100).default(60_000),
  }),
  dataDir: setting({
    env: 'MONITOR_DATA_DIR',
    flag: '--data-dir',
    description: 'Where the monitor keeps its state (token, stopped workspaces).',
    defaultText: '~/.local/state/bucketspace/monitor',
    schema: z
      .string()
      .optional()
      .transform((p) => resolve(p === undefined || p === '' ? defaultDataDir() : p)),
  }),
  token: setting({
    env: 'MONITOR_TOKEN',
    description:
      'Token for the dashboard and API; generated into MONITOR_DATA_DIR on first start when unset.',
    defaultText: 'generated',
    secret: true,
    schema: z
      .string()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined) return undefined;
        const problem = tokenProblem(v.trim());
        if (problem !== undefined) {
          ctx.addIssue({ code: 'custom', message: problem });
          return z.NEVER;
        }
        return v.trim();
      }),
  }),
  domain: setting({
    env: 'DOMAIN',
    description:
      'When set, apps are also on <workspace>.<DOMAIN> and the dashboard on monitor.<DOMAIN> (route that host to MONITOR_ADMIN_PORT).',
    schema: domainSchema,
  }),
  trustProxy: setting({
    env: 'MONITOR_TRUST_PROXY',
    description: 'Trust X-Forwarded-* headers from a front proxy (Caddy, a load balancer).',
    defaultText: 'false',
    schema: booleanSchema().default(false),
  }),
  dockerHost: setting({
    env: 'DOCKER_HOST',
    description: 'Docker engine: unix:///path or tcp://host:port.',
    defaultText: 'unix:///var/run/docker.sock',
    schema: z
      .string()
      .optional()
      .transform((v, ctx) => {
        try {
          return parseDockerHost(v);
        } catch (err) {
          ctx.addIssue({
            code: 'custom',
            message: (err as Error).message.replace(/^DOCKER_HOST [^:]+: /, ''),
          });
          return z.NEVER;
        }
      }),
  }),
  network: setting({
    env: 'MONITOR_NETWORK',
    description: 'Private Docker network shared by the monitor and the workspace containers.',
    defaultText: 'bucketspace-apps',
    schema: z
      .string()
      .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'must be a Docker network name')
      .default('bucketspace-apps'),
  }),
  instance: setting({
    env: 'MONITOR_INSTANCE',
    description:
      "Label value that marks this monitor's containers (run two monitors on one engine with different values).",
    defaultText: 'bucketspace',
    schema: z
      .string()
      .regex(/^[a-zA-Z0-9_.-]+$/, 'letters, digits, _ . - only')
      .default('bucketspace'),
  }),
  imageNode: image('node'),
  imagePython: image('python'),
  imageGo: image('go'),
  imageStatic: image('static'),
  caBundle: setting({
    env: 'RUNTIME_CA_BUNDLE',
    description:
      'Extra CA certificate file (PEM) trusted inside workspace containers by npm, pip, Node and OpenSSL (corporate proxies).',
    schema: z
      .string()
      .optional()
      .transform((p) => (p === undefined || p === '' ? undefined : resolve(p))),
  }),
  dependencyCache: setting({
    env: 'RUNTIME_DEPENDENCY_CACHE',
    description:
      "Keep what a workspace's install wrote (node_modules, the venv, Go modules) in a volume of its own, reused while its dependency files stay the same.",
    defaultText: 'true',
    schema: booleanSchema().default(true),
  }),
  isolation: setting({
    env: 'RUNTIME_ISOLATION',
    description:
      'firewall: apps reach the internet and nothing else (not each other, the monitor, the host, private networks or 169.254.169.254), by rules a one-shot container applies; off: no firewall.',
    defaultText: 'firewall',
    schema: z.enum(['firewall', 'off'], { error: 'must be firewall or off' }).default('firewall'),
  }),
  networkAllow: setting({
    env: 'RUNTIME_NETWORK_ALLOW',
    description:
      'Private addresses apps may reach all the same, comma-separated: 10.0.0.5, 10.0.0.0/24, 10.0.0.5:5432 (TCP port); e.g. a database or a proxy on the LAN.',
    defaultText: '(none)',
    schema: allowListSchema,
  }),
  firewallImage: setting({
    env: 'RUNTIME_FIREWALL_IMAGE',
    description:
      "Image of the one-shot container that applies the apps firewall (in the host's network namespace, with NET_ADMIN and NET_RAW only).",
    defaultText: 'bucketspace/apps-firewall:latest',
    schema: z.string().min(1).default('bucketspace/apps-firewall:latest'),
  }),
  memory: setting({
    env: 'RUNTIME_MEMORY',
    description: 'Memory limit per workspace container.',
    defaultText: '1g',
    schema: sizeSchema(16 * 1024 ** 2, '1g'),
  }),
  disk: setting({
    env: 'RUNTIME_DISK',
    description:
      'Disk budget per workspace container: what it writes (its copy of the source and everything else outside /tmp) plus its dependency cache. Over it, the container is stopped and the dashboard says why; where the storage driver has quotas, writes past it also fail. off: no budget.',
    defaultText: '2g',
    schema: diskBudgetSchema,
  }),
  tmpSize: setting({
    env: 'RUNTIME_TMP_SIZE',
    description:
      "Size of each workspace container's /tmp, a tmpfs in memory (it counts against RUNTIME_MEMORY): writes past it fail with ENOSPC.",
    defaultText: '256m',
    schema: sizeSchema(1024 ** 2, '256m'),
  }),
  diskCheckInterval: setting({
    env: 'MONITOR_DISK_CHECK_INTERVAL',
    description:
      "How often the monitor measures the workspace containers' disk use against RUNTIME_DISK (one engine call for all of them).",
    defaultText: '30s',
    schema: durationSchema(100).default(30_000),
  }),
  cpus: setting({
    env: 'RUNTIME_CPUS',
    description: 'CPU limit per workspace container (cores, fractions allowed).',
    defaultText: '1',
    schema: z.coerce
      .number({ error: 'must be a number' })
      .positive({ error: 'must be more than 0' })
      .max(256)
      .default(1),
  }),
  pids: setting({
    env: 'RUNTIME_PIDS',
    description: 'Process limit per workspace container.',
    defaultText: '512',
    schema: intSchema(16, 1_000_000).default(512),
  }),
  runtimeEngine: setting({
    env: 'RUNTIME_ENGINE',
    description:
      'Where workspaces run: docker (one container each on the engine of DOCKER_HOST) or swarm (one service each on the swarm DOCKER_HOST manages; README: From one server to three).',
    defaultText: 'docker',
    schema: z.enum(['docker', 'swarm'], { error: 'must be docker or swarm' }).default('docker'),
  }),
  swarmConstraints: setting({
    env: 'SWARM_CONSTRAINTS',
    description:
      'Swarm only: placement constraints for every workspace, comma-separated (e.g. node.role==worker,node.labels.apps==true).',
    defaultText: '(none)',
    schema: z
      .string()
      .optional()
      .transform((v, ctx) => {
        const list = (v ?? '')
          .split(',')
          .map((c) => c.trim())
          .filter((c) => c !== '');
        for (const c of list) {
          if (!/^[^=!]+(==|!=)[^=!]+$/.test(c)) {
            ctx.addIssue({
              code: 'custom',
              message: `${JSON.stringify(c)} is not a constraint like node.role==worker or node.labels.zone!=b`,
            });
            return z.NEVER;
          }
        }
        return list;
      }),
  }),
  swarmSpread: setting({
    env: 'SWARM_SPREAD',
    description:
      'Swarm only: what the tasks of a workspace spread over (a placement preference: node.id, or a node label such as node.labels.zone).',
    defaultText: 'node.id',
    schema: z
      .string()
      .regex(/^(node|engine)\.[a-zA-Z0-9_.-]+$/, 'must be node.id or node.labels.<name>')
      .default('node.id'),
  }),
  swarmMemoryReservation: setting({
    env: 'SWARM_MEMORY_RESERVATION',
    description:
      'Swarm only: memory each workspace task reserves on its node (what the scheduler counts; at most RUNTIME_MEMORY).',
    defaultText: '128m',
    schema: sizeSchema(4 * 1024 ** 2, '128m'),
  }),
  swarmCpusReservation: setting({
    env: 'SWARM_CPUS_RESERVATION',
    description:
      'Swarm only: CPU each workspace task reserves on its node (cores, fractions allowed; at most RUNTIME_CPUS).',
    defaultText: '0.1',
    schema: z.coerce
      .number({ error: 'must be a number' })
      .min(0, { error: 'must be 0 or more' })
      .max(256)
      .default(0.1),
  }),
  swarmHealthInterval: setting({
    env: 'SWARM_HEALTH_INTERVAL',
    description:
      "Swarm only: how often each task's health check connects to its port (a task serves, and replaces the one before it, after its first success).",
    defaultText: '2s',
    schema: durationSchema(500).default(2000),
  }),
  mounts: setting({
    env: 'MONITOR_MOUNTS',
    description:
      "Serve the mount manager's REST API (/api/v0/mounts) and show mounts on the dashboard (MOUNT_* settings apply).",
    defaultText: 'true',
    schema: booleanSchema().default(true),
  }),
  logLevel: setting({
    env: 'LOG_LEVEL',
    flag: '--log-level',
    description: 'Log level: trace, debug, info, warn, error, silent.',
    defaultText: 'info',
    schema: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),
  }),
};
