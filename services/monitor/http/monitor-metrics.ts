import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { WorkspaceState, WorkspaceView } from '../types.ts';

const STATES: readonly WorkspaceState[] = [
  'pending',
  'starting',
  'running',
  'restarting',
  'crashing',
  'stopped',
  'unrecognized',
  'error',
];

export interface MonitorMetricsOptions {
  /** Defaults to a fresh registry (tests make several). */
  registry?: Registry;
  /** Node process metrics (CPU, memory, event loop, GC); default true. */
  defaultMetrics?: boolean;
}

/**
 * The monitor's Prometheus metrics, served at /metrics. The HTTP layer records
 * proxy traffic and reads workspace states at scrape time; the supervisor
 * calls `recordRestart`.
 */
export class MonitorMetrics {
  readonly registry: Registry;
  private readonly workspaces: Gauge<'state'>;
  private readonly restarts: Counter<'workspace' | 'reason'>;
  private readonly proxyRequests: Counter<'workspace' | 'status'>;
  private readonly proxyDuration: Histogram<'workspace'>;
  private source: (() => readonly WorkspaceView[]) | undefined;

  constructor(options: MonitorMetricsOptions = {}) {
    this.registry = options.registry ?? new Registry();
    if (options.defaultMetrics !== false) {
      collectDefaultMetrics({ register: this.registry, prefix: 'bucketspace_monitor_' });
    }
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- prom-client calls collect() with the gauge as `this`
    const self = this;
    this.workspaces = new Gauge({
      name: 'bucketspace_workspaces',
      help: 'Workspaces by state.',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        if (!self.source) return;
        const counts = new Map<string, number>(STATES.map((s) => [s, 0]));
        for (const v of self.source()) counts.set(v.state, (counts.get(v.state) ?? 0) + 1);
        for (const [state, n] of counts) this.set({ state }, n);
      },
    });
    this.restarts = new Counter({
      name: 'bucketspace_workspace_restarts_total',
      help: 'Container restarts by workspace and reason (source change, crash, requested).',
      labelNames: ['workspace', 'reason'],
      registers: [this.registry],
    });
    this.proxyRequests = new Counter({
      name: 'bucketspace_proxy_requests_total',
      help: 'Requests proxied to workspaces (websocket upgrades count as 101), by final status.',
      labelNames: ['workspace', 'status'],
      registers: [this.registry],
    });
    this.proxyDuration = new Histogram({
      name: 'bucketspace_proxy_request_duration_seconds',
      help: 'Time from request to the end of the response, for requests proxied to workspaces.',
      labelNames: ['workspace'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
  }

  /** Where the workspaces-by-state gauge reads from at scrape time (the supervisor's list). */
  observeWorkspaces(source: () => readonly WorkspaceView[]): void {
    this.source = source;
  }

  recordRestart(options: { workspace: string; reason: string }): void {
    this.restarts.inc({ workspace: options.workspace, reason: options.reason });
  }

  recordProxyRequest(options: { workspace: string; status: number; seconds?: number }): void {
    this.proxyRequests.inc({ workspace: options.workspace, status: String(options.status) });
    if (options.seconds !== undefined) {
      this.proxyDuration.observe({ workspace: options.workspace }, options.seconds);
    }
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
