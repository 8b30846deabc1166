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

/** One Set-Cookie header with its Path put under the prefix. */
export function rewriteCookiePath(setCookie: string, prefix: string): string {
  if (prefix === '') return setCookie;
  return setCookie.replace(/(;\s*path=)([^;]*)/i, (match, attr: string, value: string) => {
    const path = value.trim();
    if (!path.startsWith('/')) return match;
    const next = path === '/' ? prefix : prefixed(path, prefix);
    return `${attr}${next}`;
  });
}
