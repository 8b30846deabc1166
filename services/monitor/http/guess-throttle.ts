import type { Clock } from '../../common/clock.ts';

export interface GuessThrottleOptions {
  clock: Clock;
  /** Wrong tokens one client may send within `windowMs` before it is locked out. */
  maxFailures?: number;
  windowMs?: number;
  /** How long a client that reached `maxFailures` is refused, whatever it sends. */
  lockMs?: number;
  /** Clients remembered at once; the oldest is forgotten first (bounded memory under a spray). */
  maxClients?: number;
}

export const DEFAULT_MAX_FAILURES = 10;
export const DEFAULT_GUESS_WINDOW_MS = 15 * 60_000;
export const DEFAULT_LOCK_MS = 15 * 60_000;

interface ClientRecord {
  /** Times of the wrong tokens inside the window, oldest first. */
  failures: number[];
  lockedUntil: number;
}

/**
 * Counts wrong monitor tokens per client and locks a client out once it sent
 * too many: `maxFailures` within `windowMs` (10 in 15 minutes), then every
 * token it sends is refused unchecked for `lockMs` (15 minutes), so a locked
 * client learns nothing, not even from the right token. Pure and driven by the
 * Clock; the caller says who the client is (see `clientKey`).
 */
export class GuessThrottle {
  private readonly clock: Clock;
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly lockMs: number;
  private readonly maxClients: number;
  private readonly clients = new Map<string, ClientRecord>();

  constructor(options: GuessThrottleOptions) {
    this.clock = options.clock;
    this.maxFailures = options.maxFailures ?? DEFAULT_MAX_FAILURES;
    this.windowMs = options.windowMs ?? DEFAULT_GUESS_WINDOW_MS;
    this.lockMs = options.lockMs ?? DEFAULT_LOCK_MS;
    this.maxClients = options.maxClients ?? 10_000;
  }

  /** How long `client` must wait before its next token is even looked at; 0 when it may try now. */
  lockedFor(client: string): number {
    const record = this.clients.get(client);
    if (record === undefined) return 0;
    const now = this.clock.now();
    if (record.lockedUntil > now) return record.lockedUntil - now;
    this.prune(client, record, now);
    return 0;
  }

  /** Count one wrong token; returns how long the client is now locked out (0: not locked). */
  fail(client: string): number {
    const now = this.clock.now();
    const record = this.clients.get(client) ?? { failures: [], lockedUntil: 0 };
    this.clients.delete(client); // re-inserted last: the map stays ordered by last activity
    record.failures = record.failures.filter((t) => t > now - this.windowMs);
    record.failures.push(now);
    if (record.failures.length >= this.maxFailures) {
      record.failures = [];
      record.lockedUntil = now + this.lockMs;
    }
    this.clients.set(client, record);
    while (this.clients.size > this.maxClients) {
      const oldest = this.clients.keys().next().value;
      if (oldest === undefined) break;
      this.clients.delete(oldest);
    }
    return Math.max(0, record.lockedUntil - now);
  }

  private prune(client: string, record: ClientRecord, now: number): void {
    record.failures = record.failures.filter((t) => t > now - this.windowMs);
    if (record.failures.length === 0) this.clients.delete(client);
  }
}

/**
 * Who is guessing: the client address (through a trusted proxy, the address
 * that proxy saw: the last X-Forwarded-For entry, which a client cannot
 * forge), IPv4-mapped IPv6 addresses as IPv4, and other IPv6 addresses by
 * their /64, which one host usually owns whole.
 */
export function clientKey(address: string | undefined): string {
  const a = (address ?? '').trim().toLowerCase();
  if (a === '') return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (!a.includes(':')) return a;
  return `${ipv6Groups(a).slice(0, 4).join(':')}::/64`;
}

/** The eight groups of an IPv6 address, `::` expanded, zone dropped. */
function ipv6Groups(address: string): string[] {
  const plain = address.split('%')[0] ?? '';
  const [head = '', tail] = plain.split('::', 2);
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((g) => g.replace(/^0+(?=.)/, ''));
}
