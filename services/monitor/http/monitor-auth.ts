import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { BucketspaceError } from '../../common/errors.ts';

export const SESSION_COOKIE = 'bucketspace_session';
const SESSION_VERSION = 'v1';
export const DEFAULT_SESSION_MAX_AGE_MS = 7 * 24 * 3_600_000;

/** Equal strings, compared in constant time whatever their lengths (both are hashed first). */
export function tokensEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

/** Cookies of a Cookie header; the first of a repeated name wins. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (header === undefined) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name === '' || out.has(name)) continue;
    out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

/** The Cookie header without one cookie (so apps never see the monitor's session); undefined when nothing is left. */
export function withoutCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  const kept = header
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '' && p.slice(0, Math.max(0, p.indexOf('='))).trim() !== name);
  return kept.length === 0 ? undefined : kept.join('; ');
}

export type AuthMethod = 'bearer' | 'cookie';

export interface MonitorAuthOptions {
  token: string;
  sessionMaxAgeMs?: number;
  now?: () => number;
}

/**
 * The monitor token and the sessions derived from it. A session cookie is
 * `v1.<expiry>.<HMAC-SHA256(key, "v1.<expiry>")>` with a key derived from the
 * token: the token itself never sits in a browser, sessions survive monitor
 * restarts, expire on their own, and all end when the token changes.
 */
export class MonitorAuth {
  private readonly token: string;
  private readonly key: Buffer;
  readonly sessionMaxAgeMs: number;
  private readonly now: () => number;

  constructor(options: MonitorAuthOptions) {
    if (options.token === '') {
      throw new BucketspaceError('CONFIG_INVALID', 'the monitor token must not be empty');
    }
    this.token = options.token;
    this.key = createHmac('sha256', options.token).update('bucketspace session key').digest();
    this.sessionMaxAgeMs = options.sessionMaxAgeMs ?? DEFAULT_SESSION_MAX_AGE_MS;
    this.now = options.now ?? Date.now;
  }

  checkToken(candidate: string): boolean {
    return tokensEqual(candidate, this.token);
  }

  /** `Authorization: Bearer <token>` (scheme case-insensitive). */
  checkBearer(header: string | undefined): boolean {
    if (header === undefined) return false;
    const m = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
    return m?.[1] !== undefined && this.checkToken(m[1]);
  }

  createSession(): string {
    const payload = `${SESSION_VERSION}.${(this.now() + this.sessionMaxAgeMs).toString(36)}`;
    return `${payload}.${this.mac(payload)}`;
  }

  checkSession(value: string | undefined): boolean {
    if (value === undefined) return false;
    const parts = value.split('.');
    if (parts.length !== 3 || parts[0] !== SESSION_VERSION) return false;
    const payload = `${parts[0]}.${parts[1]}`;
    const expected = Buffer.from(this.mac(payload));
    const given = Buffer.from(parts[2] ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
    const expiry = parseInt(parts[1] ?? '', 36);
    return Number.isFinite(expiry) && expiry > this.now();
  }

  /** How the request proves it knows the token, if it does. */
  authenticate(req: IncomingMessage): AuthMethod | undefined {
    if (this.checkBearer(req.headers.authorization)) return 'bearer';
    if (this.checkSession(parseCookies(req.headers.cookie).get(SESSION_COOKIE))) return 'cookie';
    return undefined;
  }

  /** The Set-Cookie value for a new session. */
  sessionCookie(secure: boolean): string {
    return cookieHeader(this.createSession(), Math.floor(this.sessionMaxAgeMs / 1000), secure);
  }

  static clearCookie(secure: boolean): string {
    return cookieHeader('', 0, secure);
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}

function cookieHeader(value: string, maxAgeSeconds: number, secure: boolean): string {
  const attrs = [
    `${SESSION_COOKIE}=${value}`,
    'Path=/',
    `Max-Age=${maxAgeSeconds}`,
    'HttpOnly',
    'SameSite=Strict',
  ];
  if (secure) attrs.push('Secure');
  return attrs.join('; ');
}
