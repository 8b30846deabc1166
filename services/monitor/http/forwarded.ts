import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';

/**
 * What the client asked for, as seen through an optional front proxy. Incoming
 * `X-Forwarded-*` headers are believed only with `trustProxy`
 * (`MONITOR_TRUST_PROXY`): otherwise any client could claim to be on https or
 * to come from anywhere.
 */

function firstValue(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  const first = v?.split(',')[0]?.trim();
  return first === undefined || first === '' ? undefined : first;
}

export function clientProto(req: IncomingMessage, trustProxy: boolean): 'http' | 'https' {
  if (trustProxy) {
    const forwarded = firstValue(req.headers['x-forwarded-proto'])?.toLowerCase();
    if (forwarded === 'https' || forwarded === 'http') return forwarded;
  }
  return req.socket instanceof TLSSocket && req.socket.encrypted ? 'https' : 'http';
}

export function clientHost(req: IncomingMessage, trustProxy: boolean): string | undefined {
  if (trustProxy) {
    const forwarded = firstValue(req.headers['x-forwarded-host']);
    if (forwarded !== undefined) return forwarded;
  }
  return req.headers.host;
}

/**
 * The address of the client: the socket's peer, or through a trusted proxy the
 * address that proxy saw (the last X-Forwarded-For entry: the one it appended,
 * which a client cannot forge).
 */
export function clientAddress(req: IncomingMessage, trustProxy: boolean): string | undefined {
  if (trustProxy) {
    const list = firstList(req.headers['x-forwarded-for']);
    const last = list?.split(',').pop()?.trim();
    if (last !== undefined && last !== '') return last;
  }
  return req.socket.remoteAddress;
}

const DEFAULT_PORT = { http: '80', https: '443' } as const;

/** `proto://host` with the scheme's default port dropped and the host lower-cased. */
export function normalizeOrigin(proto: 'http' | 'https', host: string): string {
  const h = host.toLowerCase();
  const port = `:${DEFAULT_PORT[proto]}`;
  return `${proto}://${h.endsWith(port) ? h.slice(0, -port.length) : h}`;
}

/** The origin of a URL (`https://host[:port]`), or undefined when it is not an http(s) URL. */
export function originOf(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const proto = parsed.protocol === 'https:' ? 'https' : parsed.protocol === 'http:' ? 'http' : '';
  return proto === '' ? undefined : normalizeOrigin(proto, parsed.host);
}

/**
 * Whether a browser request was made by a page of the admin origin itself.
 * The admin listener serves no app, so the origin it was reached on (the
 * request's scheme and Host) is an admin origin, and so is `MONITOR_ADMIN_URL`
 * when set. `Sec-Fetch-Site`, when the browser sends it, must be
 * `same-origin` (an app on another port of the same host is `same-site`);
 * `Origin`, else `Referer`, must name an admin origin exactly. A request that
 * names no origin at all passes only on the browser's own `same-origin`.
 */
export function isAdminOriginRequest(
  req: IncomingMessage,
  options: { trustProxy: boolean; adminOrigin: string | undefined },
): boolean {
  const site = firstValue(req.headers['sec-fetch-site']);
  if (site !== undefined && site !== 'same-origin') return false;
  const host = clientHost(req, options.trustProxy);
  const admin = new Set<string>();
  if (host !== undefined) admin.add(normalizeOrigin(clientProto(req, options.trustProxy), host));
  if (options.adminOrigin !== undefined) admin.add(options.adminOrigin);
  const origin = firstValue(req.headers.origin);
  if (origin !== undefined) {
    const named = origin === 'null' ? undefined : originOf(origin);
    return named !== undefined && admin.has(named);
  }
  const referer = req.headers.referer;
  if (referer !== undefined && referer !== '') {
    const named = originOf(referer);
    return named !== undefined && admin.has(named);
  }
  return site === 'same-origin';
}

const FORWARDING_HEADERS = [
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-prefix',
  'x-forwarded-port',
  'x-real-ip',
];

/**
 * The forwarding headers a workspace's app receives: X-Forwarded-For (client
 * address appended), -Host, -Proto, -Prefix (the path prefix the monitor
 * stripped, `/shop`; absent on a subdomain). Without `trustProxy`, whatever
 * the client sent in these headers is dropped first.
 */
export function forwardedHeaders(options: {
  req: IncomingMessage;
  trustProxy: boolean;
  prefix: string;
}): IncomingHttpHeaders {
  const { req, trustProxy, prefix } = options;
  const headers: IncomingHttpHeaders = { ...req.headers };
  const incomingFor = trustProxy ? firstList(req.headers['x-forwarded-for']) : undefined;
  const incomingPrefix = trustProxy ? firstValue(req.headers['x-forwarded-prefix']) : undefined;
  if (!trustProxy) for (const h of FORWARDING_HEADERS) delete headers[h];
  const remote = req.socket.remoteAddress ?? '';
  headers['x-forwarded-for'] = incomingFor !== undefined ? `${incomingFor}, ${remote}` : remote;
  const host = clientHost(req, trustProxy);
  if (host !== undefined) headers['x-forwarded-host'] = host;
  // http/https for websockets too, as nginx's $scheme and most frameworks expect.
  headers['x-forwarded-proto'] = clientProto(req, trustProxy);
  const fullPrefix = `${(incomingPrefix ?? '').replace(/\/+$/, '')}${prefix}`;
  if (fullPrefix !== '') headers['x-forwarded-prefix'] = fullPrefix;
  else delete headers['x-forwarded-prefix'];
  return headers;
}

function firstList(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value.join(', ') : value;
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}
