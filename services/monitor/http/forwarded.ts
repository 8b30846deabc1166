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

const DEFAULT_PORT = { http: '80', https: '443' } as const;

/** `proto://host` with the scheme's default port dropped and the host lower-cased. */
export function normalizeOrigin(proto: 'http' | 'https', host: string): string {
  const h = host.toLowerCase();
  const port = `:${DEFAULT_PORT[proto]}`;
  return `${proto}://${h.endsWith(port) ? h.slice(0, -port.length) : h}`;
}

/**
 * Whether a browser request comes from the monitor's own origin: the
 * browser's `Sec-Fetch-Site` when it sends one, else `Origin` against the
 * request's own origin. Neither header means it cannot be shown to be
 * same-origin, so it is refused (non-browser clients use the bearer token).
 */
export function isSameOriginRequest(req: IncomingMessage, trustProxy: boolean): boolean {
  const site = firstValue(req.headers['sec-fetch-site']);
  if (site !== undefined) return site === 'same-origin';
  const origin = firstValue(req.headers.origin);
  const host = clientHost(req, trustProxy);
  if (origin === undefined || origin === 'null' || host === undefined) return false;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  const proto = parsed.protocol === 'https:' ? 'https' : parsed.protocol === 'http:' ? 'http' : '';
  if (proto === '') return false;
  return (
    normalizeOrigin(proto, parsed.host) === normalizeOrigin(clientProto(req, trustProxy), host)
  );
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
