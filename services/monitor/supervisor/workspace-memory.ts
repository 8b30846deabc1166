import type { ManagedContainer } from '../containers/types.ts';
import type { DiskEviction } from './disk-budget.ts';
import type {
  DeployView,
  Detection,
  WorkspaceSnapshot,
  WorkspaceState,
  WorkspaceView,
} from '../types.ts';

/** A failed start or a crash of one version, and when to try that version again. */
export interface CrashMemory {
  readonly fingerprint: string;
  readonly failures: number;
  readonly retryAtMs: number;
}

/** What the dashboard shows of a workspace beyond its files: state, why, and the last failure. */
export interface ShownState {
  readonly state: WorkspaceState;
  readonly message: string | null;
  /** When the serving container started; null when nothing serves. */
  readonly startedAtMs: number | null;
  readonly restarts: number;
  readonly exitCode: number | null;
  readonly lastLogLines: readonly string[];
}

/**
 * What the supervisor knows and remembers about one workspace. Immutable:
 * the decision (decide.ts) and the outcome transitions (outcomes.ts) return
 * new values; only the Supervisor holds the current one. The engine's labels
 * remain the source of truth for what runs; this keeps what cannot be read
 * back from the engine (which container serves, crash counts, user requests).
 */
export interface WorkspaceMemory {
  readonly name: string;
  /** The last scan of its files; undefined until scanned, and once it is gone. */
  readonly snapshot: WorkspaceSnapshot | undefined;
  /** Detection of `snapshot` (recomputed when the fingerprint changes). */
  readonly detection: Detection | undefined;
  /** When the current fingerprint was first seen (for the debounce). */
  readonly fingerprintSinceMs: number;
  /** Every container of this workspace on the engine, as of the last list. */
  readonly containers: readonly ManagedContainer[];
  /** The container requests go to. */
  readonly serving: ManagedContainer | undefined;
  /** What was checked of the serving container (its report); undefined until checked. */
  readonly deploy: DeployView | undefined;
  /** The dependency cache of the last container started: kept while nothing else uses one. */
  readonly dependencyKey: string | undefined;
  /** A replacement being started (its logs are shown while nothing serves). */
  readonly pendingId: string | undefined;
  /** An action on this workspace is in flight: decisions wait for it. */
  readonly busy: boolean;
  /**
   * Why a new container must start although the serving one matches: a
   * restart the user asked for (`skipWaits`: at once, no debounce or backoff,
   * asked once), or a serving copy that does not match the scan (kept until
   * a replacement serves; failed replacements back off).
   */
  readonly redeploy: { why: string; skipWaits: boolean } | undefined;
  readonly crash: CrashMemory | undefined;
  /**
   * A container being stopped for going over its disk budget (disk-budget.ts):
   * when it is collected, this is the reason shown, and these volumes go.
   */
  readonly evicted: DiskEviction | undefined;
  readonly shown: ShownState;
}

export function newWorkspace(name: string): WorkspaceMemory {
  return {
    name,
    snapshot: undefined,
    detection: undefined,
    fingerprintSinceMs: 0,
    containers: [],
    serving: undefined,
    deploy: undefined,
    dependencyKey: undefined,
    pendingId: undefined,
    busy: false,
    redeploy: undefined,
    crash: undefined,
    evicted: undefined,
    shown: {
      state: 'pending',
      message: null,
      startedAtMs: null,
      restarts: 0,
      exitCode: null,
      lastLogLines: [],
    },
  };
}

/** Refresh from the engine's list; a serving container that vanished is forgotten. */
export function observeContainers(
  ws: WorkspaceMemory,
  containers: readonly ManagedContainer[],
): WorkspaceMemory {
  if (ws.serving === undefined) return { ...ws, containers };
  const serving = ws.serving;
  const fresh = containers.find((c) => c.id === serving.id);
  if (fresh === undefined) {
    return {
      ...ws,
      containers,
      serving: undefined,
      deploy: undefined,
      shown: { ...ws.shown, startedAtMs: null },
    };
  }
  return {
    ...ws,
    containers,
    serving: { ...fresh, startedAtMs: fresh.startedAtMs ?? serving.startedAtMs },
  };
}

/**
 * Take in a new scan of the workspace. A new fingerprint restarts the
 * debounce and is detected again; `changed` says whether it differs from a
 * version seen before (a first sighting is not a change).
 */
export function observeSnapshot(
  ws: WorkspaceMemory,
  snapshot: WorkspaceSnapshot,
  detect: (probe: WorkspaceSnapshot['probe']) => Detection,
  now: number,
): { ws: WorkspaceMemory; changed: boolean } {
  if (ws.snapshot?.fingerprint === snapshot.fingerprint)
    return { ws: { ...ws, snapshot }, changed: false };
  return {
    ws: { ...ws, snapshot, fingerprintSinceMs: now, detection: detect(snapshot.probe) },
    changed: ws.snapshot !== undefined,
  };
}

/** A running container to serve from: the one with the wanted fingerprint, else the newest. */
export function bestRunning(
  ws: WorkspaceMemory,
  fingerprint: string,
): ManagedContainer | undefined {
  const running = ws.containers.filter((c) => c.status === 'running');
  const sorted = [...running].sort((a, b) => b.createdAtMs - a.createdAtMs);
  return sorted.find((c) => c.fingerprint === fingerprint) ?? sorted[0];
}

/** Requests go to this container from now on; `deploy` is what was checked of it, if anything. */
export function serveFrom(
  ws: WorkspaceMemory,
  container: ManagedContainer,
  deploy?: DeployView,
): WorkspaceMemory {
  const known = ws.containers.some((c) => c.id === container.id);
  return {
    ...ws,
    serving: container,
    deploy,
    containers: known ? ws.containers : [...ws.containers, container],
  };
}

export function show(
  ws: WorkspaceMemory,
  state: WorkspaceState,
  message: string | null,
  startedAtMs: number | null,
): WorkspaceMemory {
  return { ...ws, shown: { ...ws.shown, state, message, startedAtMs } };
}

/** A container went over its disk budget and is being stopped: say so at once. */
export function markEvicted(ws: WorkspaceMemory, eviction: DiskEviction): WorkspaceMemory {
  return {
    ...show(ws, ws.shown.state, eviction.reason, ws.shown.startedAtMs),
    evicted: eviction,
  };
}

/** The eviction of this container, if it was stopped for its disk use. */
export function evictionOf(ws: WorkspaceMemory, containerId: string): DiskEviction | undefined {
  return ws.evicted?.containerId === containerId ? ws.evicted : undefined;
}

/** The containers are gone from the engine. */
export function withoutContainers(ws: WorkspaceMemory, ids: readonly string[]): WorkspaceMemory {
  const gone = new Set(ids);
  const servingGone = ws.serving !== undefined && gone.has(ws.serving.id);
  return {
    ...ws,
    containers: ws.containers.filter((c) => !gone.has(c.id)),
    serving: servingGone ? undefined : ws.serving,
    deploy: servingGone ? undefined : ws.deploy,
  };
}

export function viewOf(ws: WorkspaceMemory): WorkspaceView {
  const iso = (ms: number | null) => (ms === null || ms <= 0 ? null : new Date(ms).toISOString());
  const detection = ws.detection;
  return {
    name: ws.name,
    state: ws.shown.state,
    type: detection?.kind === 'runnable' ? detection.plan.type : null,
    reason:
      detection === undefined
        ? ''
        : detection.kind === 'runnable'
          ? detection.plan.reason
          : detection.reason,
    message: ws.shown.message,
    url: `/${ws.name}/`,
    startedAt: iso(ws.shown.startedAtMs),
    lastChangeAt: iso(ws.snapshot?.lastChangeMs ?? 0),
    fingerprint: ws.snapshot?.fingerprint ?? null,
    containerId: ws.serving?.id ?? null,
    restarts: ws.shown.restarts,
    exitCode: ws.shown.exitCode,
    lastLogLines: [...ws.shown.lastLogLines],
    deploy: ws.serving === undefined ? null : (ws.deploy ?? null),
  };
}
