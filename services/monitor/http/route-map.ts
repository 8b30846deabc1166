import { RESERVED_WORKSPACE_NAMES, workspaceArgumentProblem } from '../../common/workspace-name.ts';

/** Reserved first path segments that were the dashboard's: on the apps origin they only redirect there. */
const ADMIN_PAGES: ReadonlySet<string> = new Set(['monitor', 'login', 'logout']);

/** The label of the admin host under DOMAIN (`monitor.<DOMAIN>`), never an app. */
export const ADMIN_LABEL = 'monitor';

export interface RouteInput {
  /** The Host header (may carry a port, any case). */
  host: string | undefined;
  /** The raw request target: path and query, as received. */
  url: string;
  /** `DOMAIN`: `<workspace>.<domain>` reaches a workspace; unset means path routing only. */
  domain?: string | undefined;
}

/**
 * Where one request to the apps origin goes. Decided before anything else
 * sees it, so a workspace's whole URL space (its own `/api`, its websockets)
 * belongs to the workspace. The dashboard, the API and the mount API are not
 * on this origin at all: their old paths only redirect to the admin origin.
 */
export type Route =
  /** `/healthz`: the same health answer as on the admin origin (load balancers, Docker). */
  | { kind: 'health' }
  /** `/`, `/monitor...`, `/login`, `/logout`: a redirect to the same path on the admin origin. */
  | { kind: 'admin'; path: string }
  /** Proxied to the workspace's container. */
  | {
      kind: 'workspace';
      workspace: string;
      via: 'path' | 'subdomain';
      /** What the app sees: the path without the prefix, with the query. Always starts with `/`. */
      forwardPath: string;
      /** The stripped prefix for X-Forwarded-Prefix (`/shop`), `''` on a subdomain. */
      prefix: string;
    }
  | { kind: 'redirect'; location: string }
  /** Cannot be a workspace: nested subdomain, reserved or malformed name, the admin's own host. */
  | { kind: 'not-found'; reason: string };

/** A name that could be a workspace directory, as discovery and sync allow it. */
export function isServableName(name: string): boolean {
  return workspaceArgumentProblem(name) === undefined && !RESERVED_WORKSPACE_NAMES.has(name);
}

/** How a workspace name is written in a URL path (`/my%20app/`). */
export function encodeWorkspaceName(name: string): string {
  return encodeURIComponent(name);
}

/** The host name of a Host header: lower case, without port; IPv6 brackets kept. */
export function hostName(host: string | undefined): string {
  if (host === undefined) return '';
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(0, end + 1);
  }
  const colon = h.indexOf(':');
  return (colon < 0 ? h : h.slice(0, colon)).replace(/\.$/, '');
}

/** The workspace label of a host under `domain`, `''` for the domain itself, undefined when not under it. */
function subdomainOf(host: string, domain: string): string | undefined {
  const d = domain.trim().toLowerCase().replace(/\.$/, '');
  if (host === d) return '';
  return host.endsWith(`.${d}`) ? host.slice(0, -(d.length + 1)) : undefined;
}

function splitQuery(url: string): { path: string; query: string } {
  const q = url.indexOf('?');
  return q < 0 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q) };
}

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** Map one request to the apps origin. Pure: no I/O, no knowledge of which workspaces exist. */
export function mapRoute(input: RouteInput): Route {
  // An absolute-form target (`GET http://host/x`) is reduced to its path.
  let url = input.url;
  if (!url.startsWith('/')) {
    try {
      const parsed = new URL(url);
      url = `${parsed.pathname}${parsed.search}`;
    } catch {
      return { kind: 'not-found', reason: 'malformed request target' };
    }
  }
  const { path, query } = splitQuery(url);

  if (input.domain !== undefined && input.domain.trim() !== '') {
    const label = subdomainOf(hostName(input.host), input.domain);
    if (label !== undefined && label !== '') {
      if (label === ADMIN_LABEL) {
        return {
          kind: 'not-found',
          reason: `${label}.${input.domain} is the admin host: route it to the monitor's admin port (MONITOR_ADMIN_PORT), not to the apps`,
        };
      }
      if (label.includes('.')) {
        return { kind: 'not-found', reason: `nested subdomain "${label}" is not a workspace` };
      }
      if (!isServableName(label)) {
        return { kind: 'not-found', reason: `"${label}" cannot be a workspace` };
      }
      return {
        kind: 'workspace',
        workspace: label,
        via: 'subdomain',
        forwardPath: `${path}${query}`,
        prefix: '',
      };
    }
  }

  if (path === '/' || path === '') return { kind: 'admin', path: '/monitor' };
  const rest = path.slice(1);
  const slash = rest.indexOf('/');
  const rawSegment = slash < 0 ? rest : rest.slice(0, slash);
  const name = decodeSegment(rawSegment);
  if (name === undefined) return { kind: 'not-found', reason: 'malformed percent-encoding' };

  if (RESERVED_WORKSPACE_NAMES.has(name) && name === rawSegment) {
    if (name === 'healthz' && path === '/healthz') return { kind: 'health' };
    if (ADMIN_PAGES.has(name)) return { kind: 'admin', path: `${path}${query}` };
    return {
      kind: 'not-found',
      reason: `/${name} is served on the admin origin only (MONITOR_ADMIN_PORT), not next to the apps`,
    };
  }
  if (!isServableName(name)) {
    return { kind: 'not-found', reason: `"${name}" cannot be a workspace` };
  }
  const prefix = `/${encodeWorkspaceName(name)}`;
  if (slash < 0) return { kind: 'redirect', location: `${prefix}/${query}` };
  return {
    kind: 'workspace',
    workspace: name,
    via: 'path',
    forwardPath: `${rest.slice(slash)}${query}`,
    prefix,
  };
}
