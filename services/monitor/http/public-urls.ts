import { ADMIN_LABEL, hostName } from './route-map.ts';

/**
 * Where browsers find the two origins of the monitor: the admin origin
 * (dashboard, API, mount API) and the apps origin (`/<workspace>/`, or
 * `<workspace>.<DOMAIN>`). They never share an origin, so an app's page can
 * never act as the logged-in admin. Pure: the request's scheme and Host go in,
 * URLs come out.
 */
export interface PublicUrlsOptions {
  /** `DOMAIN`: apps on `<workspace>.<DOMAIN>`, the admin on `monitor.<DOMAIN>`. */
  domain: string | undefined;
  /** `MONITOR_ADMIN_URL`: the admin origin as browsers reach it, when a front proxy or a published port hides it. */
  adminUrl: string | undefined;
  /** `MONITOR_APPS_URL`: the apps origin as browsers reach it (path routing under it). */
  appsUrl: string | undefined;
  /** The ports the two listeners are bound to. */
  ports(): { apps: number; admin: number };
}

/** The scheme and Host of the request a URL is made for. */
export interface RequestOrigin {
  proto: 'http' | 'https';
  host: string | undefined;
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function explicitPort(host: string | undefined): boolean {
  if (host === undefined) return false;
  const h = host.trim();
  return h.startsWith('[') ? /\]:\d+$/.test(h) : /:\d+$/.test(h);
}

function withPort(proto: string, host: string, port: number | undefined): string {
  return port === undefined ? `${proto}://${host}` : `${proto}://${host}:${port}`;
}

/**
 * The admin origin (`http://127.0.0.1:8081`, `https://monitor.example.com`).
 * Without `DOMAIN` it is always the request's host name on the admin port; with
 * `DOMAIN` it is `monitor.<DOMAIN>`, on the admin port only when the request
 * itself named a port (no front proxy on the default ports).
 */
export function adminOrigin(options: PublicUrlsOptions, from: RequestOrigin): string {
  if (options.adminUrl !== undefined) return options.adminUrl;
  const port = options.ports().admin;
  if (options.domain !== undefined) {
    return withPort(
      from.proto,
      `${ADMIN_LABEL}.${options.domain}`,
      explicitPort(from.host) ? port : undefined,
    );
  }
  return withPort(from.proto, hostName(from.host) || 'localhost', port);
}

/** Where a workspace's app is, for links from the dashboard (always on the apps origin). */
export function appUrl(options: PublicUrlsOptions, name: string, from: RequestOrigin): string {
  const path = `/${encodeURIComponent(name)}/`;
  if (options.appsUrl !== undefined) return `${options.appsUrl}${path}`;
  const port = options.ports().apps;
  if (options.domain !== undefined) {
    const portHere = explicitPort(from.host) ? port : undefined;
    return DNS_LABEL.test(name) && name !== ADMIN_LABEL
      ? `${withPort(from.proto, `${name}.${options.domain}`, portHere)}/`
      : `${withPort(from.proto, options.domain, portHere)}${path}`;
  }
  return `${withPort(from.proto, hostName(from.host) || 'localhost', port)}${path}`;
}
