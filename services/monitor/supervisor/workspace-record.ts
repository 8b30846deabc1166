import type { ManagedContainer } from '../containers/types.ts';
import type {
  Detection,
  RuntimeType,
  WorkspaceSnapshot,
  WorkspaceState,
  WorkspaceView,
} from '../types.ts';

/** What the supervisor knows and remembers about one workspace. */
export class WorkspaceRecord {
  readonly name: string;
  snapshot: WorkspaceSnapshot | undefined;
  detection: Detection | undefined;
  /** When the current fingerprint was first seen (for the debounce). */
  fingerprintSinceMs = 0;
  lastChangeMs = 0;
  /** Every container of this workspace on the engine, as of the last list. */
  containers: ManagedContainer[] = [];
  /** The container requests go to. */
  serving: ManagedContainer | undefined;
  /** A replacement being started. */
  pendingId: string | undefined;
  busy = false;
  forceRestart = false;
  crash: { fingerprint: string; failures: number; retryAtMs: number } | undefined;
  state: WorkspaceState = 'pending';
  message: string | null = null;
  reason = '';
  type: RuntimeType | null = null;
  startedAtMs: number | null = null;
  restarts = 0;
  exitCode: number | null = null;
  lastLogLines: string[] = [];
  lastEmitted = '';

  constructor(name: string) {
    this.name = name;
  }

  /** Refresh from the engine's list; a serving container that vanished is forgotten. */
  observe(containers: ManagedContainer[]): void {
    this.containers = containers;
    if (this.serving === undefined) return;
    const fresh = containers.find((c) => c.id === this.serving?.id);
    if (fresh === undefined) {
      this.serving = undefined;
      this.startedAtMs = null;
    } else {
      this.serving = { ...fresh, startedAtMs: fresh.startedAtMs ?? this.serving.startedAtMs };
    }
  }

  /** A running container to serve from: the one with the wanted fingerprint, else the newest. */
  bestRunning(fingerprint: string): ManagedContainer | undefined {
    const running = this.containers.filter((c) => c.status === 'running');
    const sorted = [...running].sort((a, b) => b.createdAtMs - a.createdAtMs);
    return sorted.find((c) => c.fingerprint === fingerprint) ?? sorted[0];
  }

  adopt(container: ManagedContainer): void {
    this.serving = container;
    if (!this.containers.some((c) => c.id === container.id)) this.containers.push(container);
  }

  setState(state: WorkspaceState, message: string | null, startedAtMs: number | null): void {
    this.state = state;
    this.message = message;
    this.startedAtMs = startedAtMs;
  }

  view(): WorkspaceView {
    const iso = (ms: number | null) => (ms === null || ms <= 0 ? null : new Date(ms).toISOString());
    return {
      name: this.name,
      state: this.state,
      type: this.type,
      reason:
        this.detection?.kind === 'runnable'
          ? this.detection.plan.reason
          : (this.detection?.reason ?? this.reason),
      message: this.message,
      url: `/${this.name}/`,
      startedAt: iso(this.startedAtMs),
      lastChangeAt: iso(this.lastChangeMs),
      fingerprint: this.snapshot?.fingerprint ?? null,
      containerId: this.serving?.id ?? null,
      restarts: this.restarts,
      exitCode: this.exitCode,
      lastLogLines: this.lastLogLines,
    };
  }
}
