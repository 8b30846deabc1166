import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { ClientRequest } from 'node:http';
import { createProxyServer, type ProxyServer } from 'http-proxy-3';
import type { Clock } from '../../common/clock.ts';
import { systemErrorCode } from '../../common/errors.ts';
import type { Logger } from '../../common/logger.ts';
import type { MonitorApi, WorkspaceState, WorkspaceView } from '../types.ts';
import { forwardedHeaders } from './forwarded.ts';
import { SESSION_COOKIE, withoutCookie } from './monitor-auth.ts';
import type { MonitorMetrics } from './monitor-metrics.ts';
import { messagePage, PAGE_CSP } from './pages.ts';
import {
  limitServiceWorkerScope,
  rewriteLocation,
  rewriteSetCookie,
  type LocationRewrite,
} from './prefix-rewrite.ts';
import type { Route } from './route-map.ts';

type WorkspaceRoute = Extract<Route, { kind: 'workspace' }>;

export interface WorkspaceProxyOptions {
  api: MonitorApi;
  metrics: MonitorMetrics;
  logger: Logger;
  trustProxy: boolean;
  /** How long an app may take, once the request is sent, to start its answer (headers): then 504. */
  timeoutMs: number;
  clock: Clock;
  /** The dashboard on the admin origin, for the links of error pages. */
  dashboardUrl(req: IncomingMessage): string;
}

/** `MONITOR_PROXY_TIMEOUT`'s default, like nginx's proxy_read_timeout. */
export const DEFAULT_PROXY_TIMEOUT_MS = 60_000;

/** Per request: what to put back in front of the app's answers, and where the browser asked. */
interface ProxyContext extends LocationRewrite {
  /** The path the browser requested, prefix included (a service worker's script URL). */
  requestPath: string;
}

/** Cookies no app may set: the monitor's session (cookies ignore ports, so the host's jar is shared). */
const FORBIDDEN_COOKIES: ReadonlySet<string> = new Set([SESSION_COOKIE]);

/** States in which the workspace is on its way up: the 503 page reloads itself. */
const TRANSITIONAL: ReadonlySet<WorkspaceState> = new Set(['pending', 'starting', 'restarting']);

/** Response headers that belong to one hop (RFC 9110 §7.6.1), never copied from the app. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection'];

/**
 * `/<workspace>/...` and `<workspace>.<DOMAIN>` to the workspace's container,
 * through http-proxy-3: prefix stripped, forwarding headers set, responses
 * streamed as they come, websockets piped. Each request opens its own
 * connection to the container (no pooled keep-alive sockets that a restarted
 * container would have reset), and nothing is ever retried.
 */
export class WorkspaceProxy {
  private readonly options: WorkspaceProxyOptions;
  private readonly proxy: ProxyServer;
  private readonly log: Logger;
  private readonly sockets = new Set<Duplex>();
  private readonly upgrades = new WeakMap<IncomingMessage, { name: string; upgraded: boolean }>();
  private readonly contexts = new WeakMap<IncomingMessage, ProxyContext>();
  /** Per request: the upstream request once sent, so a timeout can abort it. */
  private readonly waits = new WeakMap<IncomingMessage, (proxyReq: ClientRequest) => void>();

  constructor(options: WorkspaceProxyOptions) {
    this.options = options;
    this.log = options.logger;
    this.proxy = createProxyServer({ xfwd: false, ws: true, agent: false });
    this.proxy.on('proxyReq', (proxyReq, req) => this.waits.get(req)?.(proxyReq));
    this.proxy.on('proxyRes', (proxyRes, req) => {
      for (const h of HOP_BY_HOP) delete proxyRes.headers[h];
      const context = this.contexts.get(req);
      const prefix = context?.prefix ?? '';
      // Cookies stay under the app's prefix, host-only, never the monitor's session.
      const setCookie = proxyRes.headers['set-cookie'];
      if (setCookie) {
        proxyRes.headers['set-cookie'] = setCookie.flatMap((c) => {
          const safe = rewriteSetCookie(c, { prefix, forbidden: FORBIDDEN_COOKIES });
          return safe === undefined ? [] : [safe];
        });
      }
      if (context) {
        for (const h of ['location', 'content-location'] as const) {
          const value = proxyRes.headers[h];
          if (typeof value === 'string') proxyRes.headers[h] = rewriteLocation(value, context);
        }
        // A service worker of one app must not answer for the others (or for `/`).
        const scope = proxyRes.headers['service-worker-allowed'];
        if (typeof scope === 'string') {
          proxyRes.headers['service-worker-allowed'] = limitServiceWorkerScope(scope, {
            prefix,
            scriptPath: context.requestPath,
          });
        }
      }
      // Clears the cookies and storage of the whole host: the other apps' (and the admin's session).
      if (prefix !== '') delete proxyRes.headers['clear-site-data'];
    });
    this.proxy.on('open', (proxySocket) => this.track(proxySocket));
    // Errors not handed to a per-request callback (client sockets failing mid-stream):
    // without a listener the emitter would throw and take the monitor down.
    this.proxy.on('error', (err) => {
      this.log.debug({ code: systemErrorCode(err) }, 'proxied connection error');
    });
    this.proxy.on('proxyReqWs', (proxyReq, req) => {
      const state = this.upgrades.get(req);
      if (!state) return;
      proxyReq.once('upgrade', () => {
        state.upgraded = true;
        this.options.metrics.recordProxyRequest({ workspace: state.name, status: 101 });
      });
      // The app answered without upgrading: http-proxy-3 relays its response.
      proxyReq.once('response', (proxyRes: IncomingMessage) =>
        this.options.metrics.recordProxyRequest({
          workspace: state.name,
          status: proxyRes.statusCode ?? 502,
        }),
      );
    });
  }

  /** Proxy one HTTP request, or answer 404/503/502 with a page saying why. */
  web(req: IncomingMessage, res: ServerResponse, route: WorkspaceRoute): void {
    const started = performance.now();
    const resolved = this.resolve(route);
    if (resolved.kind !== 'ok') {
      this.refuse(req, res, route, resolved);
      return;
    }
    const { name } = resolved;
    res.once('close', () => {
      const status = res.writableFinished ? res.statusCode : 499;
      this.options.metrics.recordProxyRequest({
        workspace: name,
        status,
        seconds: (performance.now() - started) / 1000,
      });
    });
    const timeout = this.armTimeout(req, res);
    this.prepare(req, route, resolved.target);
    this.proxy.web(
      req,
      res,
      { target: { host: resolved.target.host, port: resolved.target.port } },
      (err) => {
        timeout.clear();
        if (res.headersSent) {
          res.destroy();
          return;
        }
        if (timeout.fired()) {
          const seconds = this.options.timeoutMs / 1000;
          this.log.warn({ workspace: name, seconds }, 'the app did not answer in time');
          this.sendPage(req, res, 504, {
            title: `${name} did not answer in time`,
            status: '504 · gateway timeout',
            lines: [
              `The app of ${name} did not start its answer within ${seconds} s (MONITOR_PROXY_TIMEOUT).`,
              'It may be stuck or overloaded: its logs are on the dashboard.',
            ],
            json: {
              code: 'UPSTREAM_TIMEOUT',
              message: `the app of ${name} did not answer within ${seconds} s`,
            },
            link: this.dashboardLink(req),
          });
          return;
        }
        const code = systemErrorCode(err) ?? 'error';
        this.log.warn({ workspace: name, code, err }, 'the app did not answer');
        this.sendPage(req, res, 502, {
          title: `${name} did not answer`,
          status: '502 · bad gateway',
          lines: [
            `The container of ${name} is running, but its app did not answer (${code}).`,
            'It may still be starting, or it may have crashed: its logs are on the dashboard.',
          ],
          json: { code: 'UPSTREAM_ERROR', message: `the app of ${name} did not answer (${code})` },
          link: this.dashboardLink(req),
        });
      },
    );
  }

  /** Proxy one websocket upgrade; refusals are written as a plain HTTP response on the socket. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, route: WorkspaceRoute): void {
    const resolved = this.resolve(route);
    if (resolved.kind !== 'ok') {
      const status = resolved.kind === 'unknown' ? 404 : 503;
      writeRawResponse(
        socket,
        status,
        resolved.kind === 'unknown' ? 'no such workspace' : 'not ready',
      );
      return;
    }
    const { name } = resolved;
    const state = { name, upgraded: false };
    this.upgrades.set(req, state);
    this.track(socket);
    this.prepare(req, route, resolved.target);
    this.proxy.ws(
      req,
      socket,
      head,
      { target: { host: resolved.target.host, port: resolved.target.port } },
      (err) => {
        const code = systemErrorCode(err) ?? 'error';
        if (state.upgraded) {
          this.log.debug({ workspace: name, code }, 'websocket to the app closed with an error');
          return;
        }
        this.log.warn({ workspace: name, code, err }, 'websocket to the app failed');
        this.options.metrics.recordProxyRequest({ workspace: name, status: 502 });
        writeRawResponse(socket, 502, `the app of ${name} did not answer (${code})`);
      },
    );
  }

  /** Close every proxied websocket, both sides. */
  closeAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  /**
   * The upstream timeout: the app must make progress. While the request is
   * connected and sent, each chunk of it restarts the clock (a slow upload is
   * not a dead app); once it is all sent, the app has `timeoutMs` to start its
   * answer. A stream the app has started is never cut. When it fires, the
   * upstream request is aborted and the error path answers 504.
   */
  private armTimeout(
    req: IncomingMessage,
    res: ServerResponse,
  ): { clear(): void; fired(): boolean } {
    const { clock, timeoutMs } = this.options;
    let timer: unknown;
    let fired = false;
    let answered = false;
    const clear = () => {
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
    };
    this.waits.set(req, (proxyReq) => {
      const arm = () => {
        clear();
        if (answered || res.closed) return;
        timer = clock.setTimeout(() => {
          timer = undefined;
          fired = true;
          proxyReq.destroy();
        }, timeoutMs);
      };
      arm();
      req.on('data', arm);
      proxyReq.once('finish', arm);
      proxyReq.once('response', () => {
        answered = true;
        req.off('data', arm);
        clear();
      });
    });
    res.once('close', () => {
      answered = true;
      clear();
    });
    return { clear, fired: () => fired };
  }

  private track(socket: Duplex | Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private resolve(
    route: WorkspaceRoute,
  ):
    | { kind: 'ok'; name: string; target: { host: string; port: number } }
    | { kind: 'unknown'; name: string }
    | { kind: 'not-ready'; view: WorkspaceView } {
    const view = this.findView(route);
    if (!view) return { kind: 'unknown', name: route.workspace };
    const target = this.options.api.target(view.name);
    if (!target) return { kind: 'not-ready', view };
    return { kind: 'ok', name: view.name, target };
  }

  /** The workspace of a route; a subdomain (lower-cased by DNS) matches a name in any case if only one does. */
  private findView(route: WorkspaceRoute): WorkspaceView | undefined {
    const exact = this.options.api.get(route.workspace);
    if (exact || route.via !== 'subdomain') return exact;
    const matches = this.options.api
      .list()
      .filter((v) => v.name.toLowerCase() === route.workspace.toLowerCase());
    return matches.length === 1 ? matches[0] : undefined;
  }

  /** Rewrite the request for the app: stripped path, forwarding headers, no monitor credentials. */
  private prepare(
    req: IncomingMessage,
    route: WorkspaceRoute,
    target: { host: string; port: number },
  ): void {
    this.contexts.set(req, {
      prefix: route.prefix,
      upstreamHost: `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`,
      requestPath: `${route.prefix}${route.forwardPath}`.split('?', 1)[0] ?? '/',
    });
    const headers = forwardedHeaders({
      req,
      trustProxy: this.options.trustProxy,
      prefix: route.prefix,
    });
    // Cookies ignore ports: the admin's session cookie reaches the apps' host too. Never the app.
    const cookie = withoutCookie(req.headers.cookie, SESSION_COOKIE);
    if (cookie === undefined) delete headers.cookie;
    else headers.cookie = cookie;
    // Answered by this server already (Node sends `100 Continue` itself).
    delete headers.expect;
    req.headers = headers;
    req.url = route.forwardPath;
  }

  private refuse(
    req: IncomingMessage,
    res: ServerResponse,
    route: WorkspaceRoute,
    resolved: { kind: 'unknown'; name: string } | { kind: 'not-ready'; view: WorkspaceView },
  ): void {
    const link = this.dashboardLink(req);
    if (resolved.kind === 'unknown') {
      this.sendPage(req, res, 404, {
        title: 'No such workspace',
        status: '404 · not found',
        lines: [`There is no workspace named "${resolved.name}".`],
        json: { code: 'NOT_FOUND', message: `no workspace named "${resolved.name}"` },
        link,
      });
      return;
    }
    const { view } = resolved;
    const why = view.message ?? view.reason;
    const transitional = TRANSITIONAL.has(view.state);
    if (transitional) res.setHeader('retry-after', '3');
    this.options.metrics.recordProxyRequest({ workspace: view.name, status: 503 });
    this.sendPage(req, res, 503, {
      title: `${view.name} is not ready`,
      status: `503 · ${view.state}`,
      lines: [
        `State: ${view.state}.`,
        ...(why ? [why] : []),
        ...(transitional ? ['This page reloads by itself.'] : []),
      ],
      json: {
        code: 'NOT_READY',
        message: `${view.name} is ${view.state}${why ? `: ${why}` : ''}`,
        state: view.state,
      },
      link,
      ...(transitional ? { refreshSeconds: 3 } : {}),
    });
  }

  private dashboardLink(req: IncomingMessage): { href: string; text: string } {
    return { href: this.options.dashboardUrl(req), text: 'Open the dashboard' };
  }

  private sendPage(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    page: {
      title: string;
      status: string;
      lines: string[];
      json: Record<string, unknown>;
      link: { href: string; text: string };
      refreshSeconds?: number;
    },
  ): void {
    res.statusCode = status;
    res.setHeader('cache-control', 'no-store');
    if (prefersJson(req)) {
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(JSON.stringify({ error: page.json }));
      return;
    }
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.setHeader('content-security-policy', PAGE_CSP);
    res.setHeader('x-content-type-options', 'nosniff');
    res.end(
      messagePage({
        title: page.title,
        status: page.status,
        lines: page.lines,
        link: page.link,
        ...(page.refreshSeconds !== undefined ? { refreshSeconds: page.refreshSeconds } : {}),
      }),
    );
  }
}

/** A client that asks for JSON and not HTML (an app's own fetch calls) gets JSON errors. */
function prefersJson(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? '';
  return accept.includes('application/json') && !accept.includes('text/html');
}

const REASONS: Record<number, string> = {
  404: 'Not Found',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

function writeRawResponse(socket: Duplex, status: number, message: string): void {
  if (socket.destroyed || !socket.writable) return;
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\n` +
      'content-type: text/plain; charset=utf-8\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      'connection: close\r\n\r\n' +
      body,
  );
}
