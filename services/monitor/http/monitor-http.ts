import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import express, { type Router } from 'express';
import { systemClock, type Clock } from '../../common/clock.ts';
import { BucketspaceError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { MonitorApi } from '../types.ts';
import { createApiRouter } from './api-router.ts';
import { requireToken } from './auth-middleware.ts';
import { createDashboardRouter } from './dashboard-router.ts';
import { errorHandler, isMachinePath } from './error-handler.ts';
import { clientHost, clientProto } from './forwarded.ts';
import { GuessThrottle } from './guess-throttle.ts';
import { notFound } from './http-status.ts';
import { MonitorAuth } from './monitor-auth.ts';
import { MonitorMetrics } from './monitor-metrics.ts';
import { messagePage, PAGE_CSP } from './pages.ts';
import { adminOrigin, type PublicUrlsOptions, type RequestOrigin } from './public-urls.ts';
import { mapRoute, type Route } from './route-map.ts';
import { DEFAULT_PROXY_TIMEOUT_MS, WorkspaceProxy } from './workspace-proxy.ts';

export interface ExtraApiRouter {
  /** Under /api, e.g. `/api/v0/mounts`. */
  path: string;
  router: Router;
}

export interface MonitorHttpOptions {
  api: MonitorApi;
  /** The monitor token (see loadOrCreateToken). */
  token: string;
  /** `DOMAIN`: apps on `<workspace>.<domain>`, the admin on `monitor.<domain>`. */
  domain?: string | undefined;
  /** `MONITOR_ADMIN_URL`: the admin origin as browsers reach it (an origin: scheme, host, port). */
  adminUrl?: string | undefined;
  /** `MONITOR_APPS_URL`: the apps origin as browsers reach it. */
  appsUrl?: string | undefined;
  /** `MONITOR_TRUST_PROXY`: believe X-Forwarded-Proto/-Host/-For/-Prefix from a front proxy. */
  trustProxy?: boolean;
  /** `MONITOR_PROXY_TIMEOUT`: how long an app may take to start its answer; default 60 s. */
  proxyTimeoutMs?: number;
  logger: Logger;
  /** Served at /metrics; a fresh one with default metrics when not given. */
  metrics?: MonitorMetrics;
  /** More API routers, behind the same token guard (the mount manager's). */
  extraApiRouters?: ExtraApiRouter[];
  sessionMaxAgeMs?: number;
  /** SSE heartbeat comment interval; default 15 s. */
  heartbeatMs?: number;
  /** SSE `retry:` sent to clients; default 2 s. */
  retryMs?: number;
  /** On close, how long in-flight requests may take before their connections are cut; default 2 s. */
  shutdownGraceMs?: number;
  /** Time for the proxy timeout and the token-guess lockout; the system clock by default. */
  clock?: Clock;
}

export interface Endpoint {
  port: number;
  host?: string | undefined;
}

export interface MonitorHttp {
  /** The admin origin: dashboard, REST API, mount API, metrics, health. */
  readonly admin: Server;
  /** The apps origin: every workspace, health; nothing of the admin's. */
  readonly apps: Server;
  readonly metrics: MonitorMetrics;
  listen(endpoints: { apps: Endpoint; admin: Endpoint }): Promise<{
    apps: AddressInfo;
    admin: AddressInfo;
  }>;
  /** The bound addresses, once listening. */
  addresses(): { apps: AddressInfo | undefined; admin: AddressInfo | undefined };
  /** Stop accepting; end event and log streams, websockets and idle keep-alive connections at once. */
  close(): Promise<void>;
}

function boundAddress(server: Server): AddressInfo | undefined {
  const a = server.address();
  return a !== null && typeof a === 'object' ? a : undefined;
}

/**
 * The monitor's HTTP side on two origins that never meet. The admin origin
 * (`MONITOR_ADMIN_PORT`, or `monitor.<DOMAIN>`) serves the dashboard at
 * /monitor, the REST API under /api, /metrics and /healthz, and nothing else.
 * The apps origin (`MONITOR_PORT`: `/<workspace>/`, `<workspace>.<DOMAIN>`)
 * proxies every workspace, answers /healthz, and only redirects the
 * dashboard's old paths to the admin origin: no app's page can ever be
 * same-origin with the dashboard, so none can act as the logged-in admin.
 */
export function createMonitorHttp(options: MonitorHttpOptions): MonitorHttp {
  const log = options.logger;
  const trustProxy = options.trustProxy ?? false;
  const clock = options.clock ?? systemClock;
  const auth = new MonitorAuth({
    token: options.token,
    throttle: new GuessThrottle({ clock }),
    ...(options.sessionMaxAgeMs !== undefined ? { sessionMaxAgeMs: options.sessionMaxAgeMs } : {}),
  });
  const metrics = options.metrics ?? new MonitorMetrics();
  metrics.observeWorkspaces(() => options.api.list());
  const shutdown = new AbortController();

  const admin = createServer();
  const apps = createServer();
  const urls: PublicUrlsOptions = {
    domain: options.domain,
    adminUrl: options.adminUrl,
    appsUrl: options.appsUrl,
    ports: () => ({ apps: boundAddress(apps)?.port ?? 0, admin: boundAddress(admin)?.port ?? 0 }),
  };
  const originOf = (req: IncomingMessage): RequestOrigin => ({
    proto: clientProto(req, trustProxy),
    host: clientHost(req, trustProxy),
  });
  const proxy = new WorkspaceProxy({
    api: options.api,
    metrics,
    logger: log.child({ component: 'proxy' }),
    trustProxy,
    timeoutMs: options.proxyTimeoutMs ?? DEFAULT_PROXY_TIMEOUT_MS,
    clock,
    dashboardUrl: (req) => `${adminOrigin(urls, originOf(req))}/monitor`,
  });
  const guard = { auth, trustProxy, adminOrigin: options.adminUrl };

  const sendHealth = (res: ServerResponse) => {
    const s = options.api.status();
    // Apps cannot start while the firewall is pending or failed (decision 0055).
    const ok =
      s.docker === 'ok' && s.mount === 'ok' && (s.isolation === 'on' || s.isolation === 'off');
    res.writeHead(ok ? 200 : 503, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    });
    res.end(
      JSON.stringify({
        status: ok ? 'ok' : 'unavailable',
        docker: s.docker,
        mount: s.mount,
        isolation: s.isolation,
      }),
    );
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', trustProxy);
  app.use((_req, res, next) => {
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'same-origin');
    res.setHeader('x-frame-options', 'DENY');
    next();
  });

  app.get('/', (_req, res) => {
    res.set('cache-control', 'no-store').redirect(302, '/monitor');
  });
  app.get('/healthz', (_req, res) => sendHealth(res));

  const tokenGuard = requireToken({ ...guard, logger: log.child({ component: 'auth' }) });
  app.get('/metrics', tokenGuard, async (_req, res) => {
    const { contentType, body } = await metrics.render();
    res.set({ 'content-type': contentType, 'cache-control': 'no-store' }).send(body);
  });

  const api = express.Router();
  api.use(tokenGuard, express.json({ limit: '64kb' }));
  api.use(
    createApiRouter({
      api: options.api,
      logger: log.child({ component: 'api' }),
      signal: shutdown.signal,
      heartbeatMs: options.heartbeatMs ?? 15_000,
      retryMs: options.retryMs ?? 2_000,
      urls,
      originOf,
    }),
  );
  for (const extra of options.extraApiRouters ?? []) {
    if (!extra.path.startsWith('/api/')) {
      throw new BucketspaceError(
        'INVALID_INPUT',
        `extra API router path must start with /api/: ${extra.path}`,
      );
    }
    api.use(extra.path.slice('/api'.length), extra.router);
  }
  api.use((req) => {
    throw notFound(`no API route ${req.method} /api${req.path}`);
  });
  app.use('/api', api);

  app.use(createDashboardRouter({ ...guard, logger: log.child({ component: 'dashboard' }) }));
  app.use((req) => {
    throw notFound(`nothing at ${req.path}`);
  });
  app.use(errorHandler(log.child({ component: 'http' })));

  admin.on('request', app);
  admin.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', (err) => log.debug({ err }, 'client socket error during upgrade'));
    socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  });

  const route = (req: IncomingMessage): Route =>
    mapRoute({ host: clientHost(req, trustProxy), url: req.url ?? '/', domain: options.domain });

  apps.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const r = route(req);
    switch (r.kind) {
      case 'workspace':
        proxy.web(req, res, r);
        return;
      case 'health':
        sendHealth(res);
        return;
      case 'redirect':
        // `/shop` → `/shop/` keeps the method: 307.
        res.writeHead(307, { location: r.location, 'cache-control': 'no-store' });
        res.end();
        return;
      case 'admin':
        // The dashboard moved to its own origin: its old URLs point there, nothing is served here.
        res.writeHead(302, {
          location: `${adminOrigin(urls, originOf(req))}${r.path}`,
          'cache-control': 'no-store',
        });
        res.end();
        return;
      case 'not-found':
        notFoundPage(req, res, r.reason);
        return;
    }
  });
  apps.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', (err) => log.debug({ err }, 'client socket error during upgrade'));
    const r = route(req);
    if (r.kind === 'workspace' && !shutdown.signal.aborted) {
      proxy.upgrade(req, socket, head, r);
      return;
    }
    socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  });

  for (const server of [admin, apps]) {
    server.on('clientError', (err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      log.debug({ err }, 'malformed request');
    });
  }

  const listenOne = (server: Server, which: 'apps' | 'admin', at: Endpoint) =>
    new Promise<AddressInfo>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      server.once('error', onError);
      server.listen(at.port, at.host, () => {
        server.off('error', onError);
        const address = server.address() as AddressInfo;
        log.info({ origin: which, address: address.address, port: address.port }, 'listening');
        resolve(address);
      });
    });

  const closeOne = (server: Server) =>
    new Promise<void>((resolve) => {
      if (!server.listening) {
        resolve();
        return;
      }
      server.close(() => resolve());
      server.closeIdleConnections();
    });

  let closing: Promise<void> | undefined;
  return {
    admin,
    apps,
    metrics,
    async listen(endpoints) {
      const adminAddress = await listenOne(admin, 'admin', endpoints.admin);
      try {
        return { admin: adminAddress, apps: await listenOne(apps, 'apps', endpoints.apps) };
      } catch (err) {
        await closeOne(admin);
        throw err;
      }
    },
    addresses() {
      return { apps: boundAddress(apps), admin: boundAddress(admin) };
    },
    close() {
      closing ??= (async () => {
        log.info('stopping the monitor HTTP server');
        shutdown.abort();
        proxy.closeAll();
        const closed = Promise.all([closeOne(admin), closeOne(apps)]);
        const cut = setTimeout(() => {
          admin.closeAllConnections();
          apps.closeAllConnections();
        }, options.shutdownGraceMs ?? 2000);
        await closed;
        clearTimeout(cut);
        log.info('stopped the monitor HTTP server');
      })();
      return closing;
    },
  };
}

/** A 404 of the apps origin: JSON for machine paths (`/api`), else a page saying why. */
function notFoundPage(req: IncomingMessage, res: ServerResponse, reason: string): void {
  const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
  if (isMachinePath(path)) {
    res.writeHead(404, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    });
    res.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: reason } }));
    return;
  }
  res.writeHead(404, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': PAGE_CSP,
    'cache-control': 'no-store',
  });
  res.end(messagePage({ title: 'Not found', status: '404', lines: [`${reason}.`] }));
}
