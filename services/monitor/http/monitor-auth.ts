import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { systemClock } from '../../common/clock.ts';
import { BucketspaceError } from '../../common/errors.ts';
import { GuessThrottle } from './guess-throttle.ts';

export const SESSION_COOKIE = 'bucketspace_session';
const SESSION_VERSION = 'v1';
export const DEFAULT_SESSION_MAX_AGE_MS = 7 * 24 * 3_600_000;

/** Equal strings, compared in constant time whatever their lengths (both are hashed first). */
export function tokensEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

/**
 * Every value of one cookie in a Cookie header. A name can repeat: another
 * page of the same host (an app on another port, a sibling subdomain) can set
 * a cookie of the same name for a longer path, which the browser sends first.
 */
export function cookieValues(header: string | undefined, name: string): string[] {
  if (header === undefined) return [];
  const out: string[] = [];
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq >= 0 && part.slice(0, eq).trim() === name) out.push(part.slice(eq + 1).trim());
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

/** What a request's credentials are worth. */
export type AuthOutcome =
  | { ok: true; method: AuthMethod }
  /** No credential at all (not a guess), or a wrong token (counted as one). */
  | { ok: false; reason: 'missing' | 'wrong' }
  /** Too many wrong tokens from this client: its tokens are not even looked at. */
  | { ok: false; reason: 'locked'; retryAfterSeconds: number };

export interface MonitorAuthOptions {
  token: string;
  sessionMaxAgeMs?: number;
  now?: () => number;
  /** Wrong tokens per client; a default one on the system clock when not given. */
  throttle?: GuessThrottle;
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
  private readonly throttle: GuessThrottle;

  constructor(options: MonitorAuthOptions) {
    if (options.token === '') {
      throw new BucketspaceError('CONFIG_INVALID', 'the monitor token must not be empty');
    }
    this.token = options.token;
    this.key = createHmac('sha256', options.token).update('bucketspace session key').digest();
    this.sessionMaxAgeMs = options.sessionMaxAgeMs ?? DEFAULT_SESSION_MAX_AGE_MS;
    this.now = options.now ?? Date.now;
    this.throttle = options.throttle ?? new GuessThrottle({ clock: systemClock });
  }

  checkToken(candidate: string): boolean {
    return tokensEqual(candidate, this.token);
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

  /**
   * The one place a request's credentials are judged, for `client` (see
   * `clientKey`): a valid session cookie always passes (a lockout never ends a
   * session); a bearer token counts against the client's guesses and is not
   * even looked at while the client is locked out.
   */
  verify(req: IncomingMessage, client: string): AuthOutcome {
    const sessions = cookieValues(req.headers.cookie, SESSION_COOKIE);
    if (sessions.some((s) => this.checkSession(s))) return { ok: true, method: 'cookie' };
    const header = req.headers.authorization;
    if (header === undefined || header.trim() === '') return { ok: false, reason: 'missing' };
    return this.verifyToken(bearerToken(header) ?? '', client, 'bearer');
  }

  /** A token typed into the login form (or sent as bearer), counted against the client's guesses. */
  verifyToken(candidate: string, client: string, method: AuthMethod = 'cookie'): AuthOutcome {
    const locked = this.throttle.lockedFor(client);
    if (locked > 0)
      return { ok: false, reason: 'locked', retryAfterSeconds: Math.ceil(locked / 1000) };
    if (candidate !== '' && this.checkToken(candidate)) return { ok: true, method };
    const lockedNow = this.throttle.fail(client);
    return lockedNow > 0
      ? { ok: false, reason: 'locked', retryAfterSeconds: Math.ceil(lockedNow / 1000) }
      : { ok: false, reason: 'wrong' };
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

/** The token of an `Authorization: Bearer <token>` header (scheme in any case). */
function bearerToken(header: string): string | undefined {
  return /^\s*bearer\s+(\S+)\s*$/i.exec(header)?.[1];
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
