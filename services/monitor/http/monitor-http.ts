import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import express, { type Router } from 'express';
import { BucketspaceError } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { MonitorApi } from '../types.ts';
import { createApiRouter } from './api-router.ts';
import { requireToken } from './auth-middleware.ts';
import { createDashboardRouter } from './dashboard-router.ts';
import { errorHandler } from './error-handler.ts';
import { clientHost } from './forwarded.ts';
import { notFound } from './http-status.ts';
import { MonitorAuth } from './monitor-auth.ts';
import { MonitorMetrics } from './monitor-metrics.ts';
import { messagePage, PAGE_CSP } from './pages.ts';
import { mapRoute, type Route } from './route-map.ts';
import { WorkspaceProxy } from './workspace-proxy.ts';

export interface ExtraApiRouter {
  /** Under /api, e.g. `/api/v0/mounts`. */
  path: string;
  router: Router;
}

export interface MonitorHttpOptions {
  api: MonitorApi;
  /** The monitor token (see loadOrCreateToken). */
  token: string;
  /** `DOMAIN`: `<workspace>.<domain>` reaches a workspace too. */
  domain?: string | undefined;
  /** `MONITOR_TRUST_PROXY`: believe X-Forwarded-Proto/-Host/-For/-Prefix from a front proxy. */
  trustProxy?: boolean;
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
}

export interface MonitorHttp {
  readonly server: Server;
  readonly metrics: MonitorMetrics;
  listen(port: number, host?: string): Promise<AddressInfo>;
  /** The bound address, once listening. */
  address(): AddressInfo | undefined;
  /** Stop accepting; end event and log streams, websockets and idle keep-alive connections at once. */
  close(): Promise<void>;
}

/**
 * The monitor's HTTP side on one port: the dashboard at /monitor, the REST
 * API under /api, /healthz, /metrics, and every other first path segment (or
 * `<workspace>.<DOMAIN>`) proxied to that workspace's container. Routing is
 * decided by `mapRoute` before express runs, so apps own their whole URL space.
 * Apps are public; the token guards the dashboard, the API and the metrics.
 */
export function createMonitorHttp(options: MonitorHttpOptions): MonitorHttp {
  const log = options.logger;
  const trustProxy = options.trustProxy ?? false;
  const auth = new MonitorAuth({
    token: options.token,
    ...(options.sessionMaxAgeMs !== undefined ? { sessionMaxAgeMs: options.sessionMaxAgeMs } : {}),
  });
  const metrics = options.metrics ?? new MonitorMetrics();
  metrics.observeWorkspaces(() => options.api.list());
  const shutdown = new AbortController();
  const proxy = new WorkspaceProxy({
    api: options.api,
    auth,
    metrics,
    logger: log.child({ component: 'proxy' }),
    trustProxy,
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', trustProxy);
  app.use((_req, res, next) => {
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'same-origin');
    res.setHeader('x-frame-options', 'DENY');
    next();
  });

  app.get('/healthz', (_req, res) => {
    const s = options.api.status();
    const ok = s.docker === 'ok' && s.mount === 'ok';
    res
      .status(ok ? 200 : 503)
      .set('cache-control', 'no-store')
      .json({ status: ok ? 'ok' : 'unavailable', docker: s.docker, mount: s.mount });
  });

  const guard = requireToken({ auth, trustProxy });
  app.get('/metrics', guard, async (_req, res) => {
    const { contentType, body } = await metrics.render();
    res.set({ 'content-type': contentType, 'cache-control': 'no-store' }).send(body);
  });

  const api = express.Router();
  api.use(guard, express.json({ limit: '64kb' }));
  api.use(
    createApiRouter({
      api: options.api,
      logger: log.child({ component: 'api' }),
      signal: shutdown.signal,
      heartbeatMs: options.heartbeatMs ?? 15_000,
      retryMs: options.retryMs ?? 2_000,
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

  app.use(
    createDashboardRouter({ auth, trustProxy, logger: log.child({ component: 'dashboard' }) }),
  );
  app.use((req) => {
    throw notFound(`nothing at ${req.path}`);
  });
  app.use(errorHandler(log.child({ component: 'http' })));

  const route = (req: IncomingMessage): Route =>
    mapRoute({ host: clientHost(req, trustProxy), url: req.url ?? '/', domain: options.domain });

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const r = route(req);
    switch (r.kind) {
      case 'workspace':
        proxy.web(req, res, r);
        return;
      case 'redirect':
        // `/` → `/monitor` may change one day: 302; `/shop` → `/shop/` keeps the method: 307.
        res.writeHead(r.location === '/monitor' ? 302 : 307, {
          location: r.location,
          'cache-control': 'no-store',
        });
        res.end();
        return;
      case 'not-found':
        res.writeHead(404, {
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': PAGE_CSP,
          'cache-control': 'no-store',
        });
        res.end(
          messagePage({
            title: 'Not found',
            status: '404',
            lines: [`${r.reason}.`],
          }),
        );
        return;
      case 'monitor':
      case 'api':
        app(req, res);
        return;
    }
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', (err) => log.debug({ err }, 'client socket error during upgrade'));
    const r = route(req);
    if (r.kind === 'workspace' && !shutdown.signal.aborted) {
      proxy.upgrade(req, socket, head, r);
      return;
    }
    socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  });

  server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    log.debug({ err }, 'malformed request');
  });

  let closing: Promise<void> | undefined;
  return {
    server,
    metrics,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          const address = server.address() as AddressInfo;
          log.info({ address: address.address, port: address.port }, 'monitor listening');
          resolve(address);
        });
      });
    },
    address() {
      const a = server.address();
      return a !== null && typeof a === 'object' ? a : undefined;
    },
    close() {
      closing ??= (async () => {
        log.info('stopping the monitor HTTP server');
        shutdown.abort();
        proxy.closeAll();
        const closed = new Promise<void>((resolve) => {
          if (!server.listening) resolve();
          server.close(() => resolve());
        });
        server.closeIdleConnections();
        const cut = setTimeout(() => server.closeAllConnections(), options.shutdownGraceMs ?? 2000);
        await closed;
        clearTimeout(cut);
        log.info('stopped the monitor HTTP server');
      })();
      return closing;
    },
  };
}
