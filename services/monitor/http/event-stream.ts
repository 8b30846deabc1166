import type { ServerResponse } from 'node:http';

export interface EventStreamOptions {
  /** Sent as `retry:` so EventSource reconnects after this long. */
  retryMs: number;
  /** A `: ping` comment this often keeps proxies and idle timeouts from closing the stream. */
  heartbeatMs: number;
  /** Ends the stream (monitor shutting down). */
  signal: AbortSignal;
  /** A client this far behind is dropped rather than buffered without bound (it reconnects). */
  maxBufferedBytes?: number;
}

/**
 * One server-sent-events response. Closes when the client goes, the signal
 * aborts, or the client falls too far behind; `closed` resolves then.
 */
export class EventStream {
  private readonly res: ServerResponse;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly maxBuffered: number;
  private readonly onAbort: () => void;
  private readonly signal: AbortSignal;
  private ended = false;
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;

  constructor(res: ServerResponse, options: EventStreamOptions) {
    this.res = res;
    this.signal = options.signal;
    this.maxBuffered = options.maxBufferedBytes ?? 4 * 1024 * 1024;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    res.write(`retry: ${options.retryMs}\n\n`);
    this.heartbeat = setInterval(() => this.write(': ping\n\n'), options.heartbeatMs);
    this.heartbeat.unref();
    this.onAbort = () => this.close();
    options.signal.addEventListener('abort', this.onAbort, { once: true });
    res.on('close', () => this.close());
    if (options.signal.aborted) this.close();
  }

  get isClosed(): boolean {
    return this.ended;
  }

  /** One event; `data` is sent as JSON on one line. */
  send(event: string, data: unknown): void {
    this.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.heartbeat);
    this.signal.removeEventListener('abort', this.onAbort);
    if (!this.res.writableEnded) this.res.end();
    this.resolveClosed();
  }

  private write(text: string): void {
    if (this.ended) return;
    if (this.res.writableLength > this.maxBuffered) {
      this.res.destroy();
      this.close();
      return;
    }
    this.res.write(text);
  }
}
