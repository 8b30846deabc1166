import { errorMessage, systemErrorCode } from './errors.ts';
import type { Logger } from './logger.ts';

/** Something that can be told which workspaces changed (the sync's side of the hints). */
export interface ChangeNotifier {
  /** Never rejects and never throws: the sync goes on whatever the receiver does. */
  notifyChanged(names: readonly string[]): Promise<void>;
}

/** `path` under a receiver's base URL (`http://host:1234` or `http://host:1234/prefix/`). */
export function endpointUnder(baseUrl: string, path: string): URL {
  return new URL(path, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
}

/** One HTTP call that delivers a hint; the answer is read and judged by `problem`. */
export interface HintRequest {
  url: URL;
  init: RequestInit;
}

export interface HintSenderOptions {
  /** The requests for a batch of names (`[]`: everything changed), sent in order. */
  requests(names: string[]): HintRequest[];
  /** Why an answer is a failure (e.g. `HTTP 401: ...`), or undefined when it is not. */
  problem(res: Response): string | undefined;
  /** Log lines: `component` of the child logger, and what is said when hints fail or work again. */
  messages: { component: string; failing: string; recovered: string; sent: string };
  logger: Logger;
  /** Per request; default 2 s. */
  timeoutMs?: number;
}

/**
 * A hint sent over HTTP (one request or a few in order), fire and forget: a failure is logged at warn once
 * per outage (and at info when the receiver answers again), never thrown.
 * Calls made while one is in flight are merged into the next request, so a
 * slow receiver never piles up requests. The monitor hook and the mount's
 * `vfs/refresh` are both sent through one of these.
 */
export class HintSender implements ChangeNotifier {
  private readonly options: HintSenderOptions;
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private readonly closing = new AbortController();
  /** Names waiting for the next request; `all` once any caller said "everything". */
  private pending: Set<string> | 'all' | undefined;
  private running: Promise<void> | undefined;
  private down = false;

  constructor(options: HintSenderOptions) {
    this.options = options;
    this.log = options.logger.child({ component: options.messages.component });
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
    const requests = this.options.requests(workspaces);
    const url = requests[0]?.url;
    if (url === undefined) return;
    let problem: string | undefined;
    try {
      for (const request of requests) {
        const res = await fetch(request.url, { ...request.init, signal });
        await res.arrayBuffer().catch(() => undefined);
        problem = this.options.problem(res);
        if (problem !== undefined) break;
      }
    } catch (err) {
      if (this.closing.signal.aborted) return;
      problem =
        signal.aborted && !this.closing.signal.aborted
          ? `no answer within ${this.timeoutMs} ms`
          : (systemErrorCode((err as { cause?: unknown }).cause) ?? errorMessage(err));
    }
    const { messages } = this.options;
    const origin = url.origin;
    if (problem === undefined) {
      if (this.down) this.log.info({ url: origin }, messages.recovered);
      else this.log.debug({ url: origin, workspaces }, messages.sent);
      this.down = false;
      return;
    }
    if (!this.down) {
      this.log.warn(
        { url: origin, reason: problem },
        `${messages.failing}; not repeated until it answers again`,
      );
    } else {
      this.log.debug({ url: origin, reason: problem }, 'still not answering');
    }
    this.down = true;
  }
}

/** Runs notifiers one after the other: what the second is told about, the first has handled. */
export class SequentialNotifier implements ChangeNotifier {
  private readonly notifiers: readonly ChangeNotifier[];

  constructor(notifiers: readonly ChangeNotifier[]) {
    this.notifiers = notifiers;
  }

  async notifyChanged(names: readonly string[]): Promise<void> {
    for (const n of this.notifiers) await n.notifyChanged(names);
  }
}
