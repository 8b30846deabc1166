import { errorMessage, systemErrorCode } from './errors.ts';
import type { Logger } from './logger.ts';

export interface MonitorClientOptions {
  /** `MONITOR_URL`: the monitor's admin origin, e.g. `http://monitor:8081` (a path prefix is kept). */
  url: string;
  /** `MONITOR_TOKEN`: sent as a bearer token. */
  token: string;
  logger: Logger;
  /** Per request; default 2 s. */
  timeoutMs?: number;
}

/** Something that can be told which workspaces changed (the sync's side of the monitor hook). */
export interface ChangeNotifier {
  /** Never rejects and never throws: the sync goes on whatever the monitor does. */
  notifyChanged(names: readonly string[]): Promise<void>;
}

/**
 * Tells the monitor "these workspaces changed" (`POST /api/hooks/changed`),
 * so it rescans at once instead of at its next poll. Fire and forget: a
 * failure is logged at warn once per outage (and at info when the monitor
 * answers again), never thrown. Calls made while one is in flight are merged
 * into the next request, so a slow monitor never piles up requests.
 */
export class MonitorClient implements ChangeNotifier {
  private readonly endpoint: URL;
  private readonly token: string;
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private readonly closing = new AbortController();
  /** Names waiting for the next request; `all` once any caller said "everything". */
  private pending: Set<string> | 'all' | undefined;
  private running: Promise<void> | undefined;
  private down = false;

  constructor(options: MonitorClientOptions) {
    const base = options.url.endsWith('/') ? options.url : `${options.url}/`;
    this.endpoint = new URL('api/hooks/changed', base);
    this.token = options.token;
    this.log = options.logger.child({ component: 'monitor-hook' });
    this.timeoutMs = options.timeoutMs ?? 2000;
  }

  notifyChanged(names: readonly string[]): Promise<void> {
    if (this.closing.signal.aborted) return Promise.resolve();
    if (names.length === 0) this.pending = 'all';
    else if (this.pending !== 'all') {
      this.pending ??= new Set();
      for (const n of names) this.pending.add(n);
    }
    this.running ??= this.drain();
    return this.running;
  }

  /** Abandon what is in flight (the sync is stopping). */
  close(): void {
    this.closing.abort();
    this.pending = undefined;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending !== undefined && !this.closing.signal.aborted) {
        const batch = this.pending;
        this.pending = undefined;
        await this.send(batch === 'all' ? [] : [...batch].sort());
      }
    } finally {
      this.running = undefined;
    }
  }

  private async send(workspaces: string[]): Promise<void> {
    const signal = AbortSignal.any([this.closing.signal, AbortSignal.timeout(this.timeoutMs)]);
    let problem: string | undefined;
    try {
      const res = await fetch(this.endpoint, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ workspaces }),
        signal,
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status === 401) problem = 'HTTP 401: MONITOR_TOKEN is not the monitor’s token';
      else if (res.status === 404) {
        problem =
          'HTTP 404: MONITOR_URL must be the monitor’s admin port (MONITOR_ADMIN_PORT, 8081), not the apps port';
      } else if (!res.ok) problem = `HTTP ${res.status}`;
    } catch (err) {
      if (this.closing.signal.aborted) return;
      problem =
        signal.aborted && !this.closing.signal.aborted
          ? `no answer within ${this.timeoutMs} ms`
          : (systemErrorCode((err as { cause?: unknown }).cause) ?? errorMessage(err));
    }
    const url = this.endpoint.origin;
    if (problem === undefined) {
      if (this.down) this.log.info({ url }, 'the monitor answers again');
      else this.log.debug({ url, workspaces }, 'told the monitor what changed');
      this.down = false;
      return;
    }
    if (!this.down) {
      this.log.warn(
        { url, reason: problem },
        'cannot tell the monitor what changed (it will still see the changes at its next scan); not repeated until it answers again',
      );
    } else {
      this.log.debug({ url, reason: problem }, 'the monitor is still not answering');
    }
    this.down = true;
  }
}
