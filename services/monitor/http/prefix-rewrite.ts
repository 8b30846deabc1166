import { parseSetCookie } from 'cookie';

/**
 * Apps behind `/<workspace>/` mostly do not know their prefix: they redirect
 * to `/login` and set cookies for `Path=/`. Like nginx's `proxy_redirect` and
 * `proxy_cookie_path`, the proxy puts the prefix back in front of such
 * root-relative answers (an app that already uses X-Forwarded-Prefix is left
 * alone), and turns redirects to the container's own address into paths.
 */

function hasPrefix(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`) || path.startsWith(`${prefix}?`);
}

/** Prefix a root-relative path unless it already carries the prefix. */
function prefixed(path: string, prefix: string): string {
  if (prefix === '' || hasPrefix(path, prefix)) return path;
  return `${prefix}${path}`;
}

export interface LocationRewrite {
  /** `/shop`, or `''` on a subdomain. */
  prefix: string;
  /** The container address the request went to (`10.0.0.5:3000`): absolute URLs to it become paths. */
  upstreamHost: string;
}

/** A Location (or Content-Location) header as the client must see it. */
export function rewriteLocation(location: string, options: LocationRewrite): string {
  if (location.startsWith('/') && !location.startsWith('//')) {
    return prefixed(location, options.prefix);
  }
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    return location; // relative (`login`, `../x`): resolved by the browser under the prefix
  }
  if (
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    url.host === options.upstreamHost
  ) {
    return prefixed(`${url.pathname}${url.search}${url.hash}`, options.prefix);
  }
  return location;
}

/** A cookie the app asked for, as the browser will store it once the proxy has rewritten it. */
export interface CookieRewrite {
  /** `/shop`, or `''` on a subdomain. */
  prefix: string;
  /** Cookie names an app may never set (the monitor's session). */
  forbidden: ReadonlySet<string>;
}

/**
 * One Set-Cookie header of an app, made safe for the shared apps origin, or
 * undefined when it must be dropped. The header is parsed the way browsers
 * parse it (RFC 6265 §5.2, with the `cookie` library: attribute names in any
 * case, spaces around `=`, the last `Path` wins) and written anew, so no
 * spelling can smuggle a second `Path`: the path is put under the prefix,
 * `Domain` is dropped (a cookie for the parent domain would reach the admin
 * host and every other app), and the name=value pair is kept as sent.
 */
export function rewriteSetCookie(header: string, options: CookieRewrite): string | undefined {
  const parsed = parseSetCookie(header, { decode: (v) => v });
  if (parsed.name === '' || options.forbidden.has(parsed.name)) return undefined;
  const pair = (header.split(';', 1)[0] ?? '').trim();
  const attrs = [pair];
  if (parsed.maxAge !== undefined) attrs.push(`Max-Age=${parsed.maxAge}`);
  if (parsed.expires !== undefined) attrs.push(`Expires=${parsed.expires.toUTCString()}`);
  // A path that does not start with `/` means the browser's default path: the
  // directory of the request URL, which is under the prefix already.
  if (parsed.path?.startsWith('/') === true) {
    const path = parsed.path === '/' && options.prefix !== '' ? options.prefix : parsed.path;
    attrs.push(`Path=${prefixed(path, options.prefix)}`);
  }
  if (parsed.httpOnly === true) attrs.push('HttpOnly');
  if (parsed.secure === true) attrs.push('Secure');
  if (parsed.partitioned === true) attrs.push('Partitioned');
  if (parsed.sameSite !== undefined) attrs.push(`SameSite=${capitalize(String(parsed.sameSite))}`);
  if (parsed.priority !== undefined) attrs.push(`Priority=${capitalize(parsed.priority)}`);
  return attrs.join('; ');
}

function capitalize(word: string): string {
  return `${word.charAt(0).toUpperCase()}${word.slice(1)}`;
}

/**
 * The `Service-Worker-Allowed` header an app may send: a service worker
 * registered from `/shop/sw.js` may control `/shop/` and below, never `/`
 * (where it would answer for the other apps). A value outside the prefix is
 * narrowed to the prefix. `scriptPath` is the path the browser asked for.
 */
export function limitServiceWorkerScope(
  value: string,
  options: { prefix: string; scriptPath: string },
): string {
  if (options.prefix === '') return value;
  let scope: string;
  try {
    scope = new URL(value, new URL(options.scriptPath, 'http://apps.invalid')).pathname;
  } catch {
    return `${options.prefix}/`;
  }
  return scope.startsWith(`${options.prefix}/`) ? scope : `${options.prefix}/`;
}
