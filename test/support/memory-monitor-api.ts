import { BucketspaceError } from '../../services/common/errors.ts';
import type {
  MonitorApi,
  MonitorEvent,
  MonitorStatus,
  ProxyTarget,
  WorkspaceState,
  WorkspaceView,
} from '../../services/monitor/types.ts';

/**
 * A MonitorApi that holds views in memory and emits events when the test
 * changes them: the HTTP layer's tests drive it, real upstream servers stand
 * in for containers. Records every call the HTTP layer makes.
 */
export class MemoryMonitorApi implements MonitorApi {
  private readonly views = new Map<string, WorkspaceView>();
  private readonly targets = new Map<string, ProxyTarget>();
  private readonly logLines = new Map<string, string[]>();
  private readonly followers = new Map<string, Set<(line: string | null) => void>>();
  private readonly listeners = new Set<(event: MonitorEvent) => void>();
  private currentStatus: MonitorStatus = {
    mount: 'ok',
    mountReason: null,
    docker: 'ok',
    dockerReason: null,
    isolation: 'on',
    isolationReason: null,
  };
  readonly calls: { method: string; args: unknown[] }[] = [];
  /** Errors to throw from the next action on a workspace (restart/stop/start). */
  readonly failNext = new Map<string, BucketspaceError>();

  // ---- test controls ------------------------------------------------------

  put(view: Partial<WorkspaceView> & { name: string }): WorkspaceView {
    const full: WorkspaceView = {
      state: 'running',
      type: 'node',
      reason: 'package.json with scripts.start',
      message: null,
      url: `/${encodeURIComponent(view.name)}/`,
      startedAt: new Date().toISOString(),
      lastChangeAt: new Date().toISOString(),
      fingerprint: 'f1',
      containerId: 'c1',
      restarts: 0,
      exitCode: null,
      lastLogLines: [],
      deploy: null,
      ...this.views.get(view.name),
      ...view,
    };
    this.views.set(full.name, full);
    this.emit({ type: 'workspace', workspace: full });
    return full;
  }

  setState(name: string, state: WorkspaceState, message: string | null = null): WorkspaceView {
    return this.put({ name, state, message });
  }

  delete(name: string): void {
    this.views.delete(name);
    this.targets.delete(name);
    this.emit({ type: 'workspace-removed', name });
  }

  setTarget(name: string, target: ProxyTarget | undefined): void {
    if (target) this.targets.set(name, target);
    else this.targets.delete(name);
  }

  setStatus(status: Partial<MonitorStatus>): void {
    this.currentStatus = { ...this.currentStatus, ...status };
    this.emit({ type: 'status', status: this.currentStatus });
  }

  /** Append log lines; followers get them at once. */
  log(name: string, ...lines: string[]): void {
    const all = this.logLines.get(name) ?? [];
    all.push(...lines);
    this.logLines.set(name, all);
    for (const f of this.followers.get(name) ?? []) for (const l of lines) f(l);
  }

  /** End every log follower of a workspace (its container went away). */
  endLogs(name: string): void {
    for (const f of this.followers.get(name) ?? []) f(null);
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }

  followerCount(name: string): number {
    return this.followers.get(name)?.size ?? 0;
  }

  callsOf(method: string): unknown[][] {
    return this.calls.filter((c) => c.method === method).map((c) => c.args);
  }

  // ---- MonitorApi -----------------------------------------------------------

  status(): MonitorStatus {
    return this.currentStatus;
  }

  list(): WorkspaceView[] {
    return [...this.views.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): WorkspaceView | undefined {
    return this.views.get(name);
  }

  target(name: string): ProxyTarget | undefined {
    return this.views.get(name)?.state === 'running' ? this.targets.get(name) : undefined;
  }

  async restart(name: string): Promise<void> {
    await this.action('restart', name);
  }

  async stop(name: string): Promise<void> {
    await this.action('stop', name);
  }

  async start(name: string): Promise<void> {
    await this.action('start', name);
  }

  logs(name: string, tail: number): Promise<string[]> {
    this.calls.push({ method: 'logs', args: [name, tail] });
    this.must(name);
    return Promise.resolve((this.logLines.get(name) ?? []).slice(-tail));
  }

  async *followLogs(name: string, signal: AbortSignal): AsyncIterable<string> {
    this.calls.push({ method: 'followLogs', args: [name] });
    this.must(name);
    const queue: (string | null)[] = [];
    let wake: (() => void) | undefined;
    const push = (line: string | null) => {
      queue.push(line);
      wake?.();
    };
    let set = this.followers.get(name);
    if (!set) this.followers.set(name, (set = new Set()));
    set.add(push);
    const onAbort = () => wake?.();
    signal.addEventListener('abort', onAbort);
    try {
      while (!signal.aborted) {
        const next = queue.shift();
        if (next === null) return;
        if (next !== undefined) {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      set.delete(push);
      signal.removeEventListener('abort', onAbort);
    }
  }

  notifyChanged(names: string[]): void {
    this.calls.push({ method: 'notifyChanged', args: [names] });
  }

  subscribe(listener: (event: MonitorEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- internals -------------------------------------------------------------

  private must(name: string): WorkspaceView {
    const v = this.views.get(name);
    if (!v) throw new BucketspaceError('NOT_FOUND', `no workspace named "${name}"`);
    return v;
  }

  private async action(method: 'restart' | 'stop' | 'start', name: string): Promise<void> {
    this.calls.push({ method, args: [name] });
    const view = this.must(name);
    const fail = this.failNext.get(name);
    if (fail) {
      this.failNext.delete(name);
      throw fail;
    }
    if (view.state === 'unrecognized') {
      throw new BucketspaceError(
        'CONFLICT',
        `${name} is unrecognized: there is nothing to ${method}`,
      );
    }
    await Promise.resolve();
    if (method === 'stop') this.put({ name, state: 'stopped', startedAt: null });
    else
      this.put({
        name,
        state: 'starting',
        restarts: view.restarts + (method === 'restart' ? 1 : 0),
      });
  }

  private emit(event: MonitorEvent): void {
    for (const l of this.listeners) l(event);
  }
}
