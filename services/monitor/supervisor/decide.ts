import type { ManagedContainer, ManagedVolume } from '../containers/types.ts';
import { dependencyPlan, type DependencyPlan } from '../detect/dependency-manifest.ts';
import type {
  Detection,
  RunPlan,
  ScanResult,
  WorkspaceProbe,
  WorkspaceSnapshot,
} from '../types.ts';
import type { DeployGate } from '../isolation/isolation-schedule.ts';
import type { Action, Note } from './actions.ts';
import { judgeMount } from './mount-judgement.ts';
import {
  bestRunning,
  newWorkspace,
  observeContainers,
  observeSnapshot,
  serveFrom,
  show,
  type WorkspaceMemory,
} from './workspace-memory.ts';

/** What one reconcile pass saw, and what the user asked. */
export interface Observation {
  /** What the scan of the workspaces root saw. */
  scan: ScanResult;
  /** Every container carrying our label, as the engine listed them. */
  containers: readonly ManagedContainer[];
  /** Every dependency-cache volume carrying our label. */
  volumes: readonly ManagedVolume[];
  /** Workspaces the user stopped. */
  stopped: ReadonlySet<string>;
  /**
   * Workspaces whose container list is older than their memory (an action
   * finished after the list was taken): left alone this pass, like busy ones.
   */
  stale?: ReadonlySet<string>;
  /** Whether new containers may start (the apps firewall is in place, or isolation is off). */
  deploys: DeployGate;
  now: number;
}

export interface DecideOptions {
  /** Quiet time after a change before a workspace is deployed (bursts coalesce). */
  debounceMs: number;
  /** Pure detection of how to run a workspace; called when its fingerprint changes. */
  detect: (probe: WorkspaceProbe) => Detection;
  /** Keep what installs write for the next container of the workspace (RUNTIME_DEPENDENCY_CACHE). */
  dependencyCache: boolean;
}

export interface Decision {
  /** Whether the scan can be trusted; when it cannot, nothing is removed or deployed. */
  mount: { ok: true } | { ok: false; reason: string };
  /** The memory to keep, without the forgotten workspaces. */
  workspaces: Map<string, WorkspaceMemory>;
  /** Workspaces gone with no container left: forget them. */
  forgotten: string[];
  /** At most one per workspace; the workspace is marked busy until it is done. */
  actions: Action[];
  notes: Note[];
  /** The earliest time a workspace waits for (debounce, crash backoff). */
  wakeAtMs: number | undefined;
}

/**
 * The supervisor's decision for one reconcile pass: (what it remembers, what
 * the scan saw, what runs, what the user asked, now) -> what to do. Pure: no
 * I/O, no clock but `now`. Per workspace, in order: removed -> remove its
 * containers and forget it; not runnable -> show why, remove its containers;
 * stopped by the user -> remove its containers, show stopped; nothing serves
 * -> adopt a running container (monitor restart); the serving one stopped ->
 * collect the crash; extra containers -> remove them; up to date -> running;
 * else deploy, once the files have been quiet for the debounce and a crash
 * of this version has backed off, and only while `deploys` allows it (the
 * apps firewall is in place). A serving container that was never checked
 * (adopted) has its report read against the scan. When a workspace
 * needs nothing else, dependency-cache volumes that none of its containers
 * uses (and that are not its last container's) are removed.
 */
export function decide(
  memory: ReadonlyMap<string, WorkspaceMemory>,
  seen: Observation,
  options: DecideOptions,
): Decision {
  const byWorkspace = groupByWorkspace(seen.containers);
  const volumesOf = groupByWorkspace(seen.volumes);
  const running = seen.containers.filter((c) => c.status === 'running').length;
  const judgement = judgeMount(seen.scan, running);
  const workspaces = new Map(memory);
  const decision: Decision = {
    mount: judgement.ok ? { ok: true } : { ok: false, reason: judgement.reason },
    workspaces,
    forgotten: [],
    actions: [],
    notes: [],
    wakeAtMs: undefined,
  };
  if (!judgement.ok) {
    // Keep serving what runs; remember containers so routes keep working.
    for (const [name, list] of byWorkspace) {
      const ws = workspaces.get(name) ?? newWorkspace(name);
      if (!ws.busy && seen.stale?.has(name) !== true) {
        workspaces.set(name, observeContainers(ws, list));
      }
    }
    return decision;
  }
  const names = new Set([
    ...judgement.workspaces.keys(),
    ...memory.keys(),
    ...byWorkspace.keys(),
    ...volumesOf.keys(),
  ]);
  for (const name of names) {
    const snapshot = judgement.workspaces.get(name);
    let ws = workspaces.get(name) ?? newWorkspace(name);
    if (snapshot !== undefined) {
      const observed = observeSnapshot(ws, snapshot, options.detect, seen.now);
      ws = observed.ws;
      if (observed.changed) {
        decision.notes.push({
          level: 'info',
          msg: 'workspace changed',
          fields: { workspace: name, fingerprint: snapshot.fingerprint },
        });
      }
    }
    if (ws.busy || seen.stale?.has(name) === true) {
      workspaces.set(name, ws);
      continue;
    }
    ws = observeContainers(ws, byWorkspace.get(name) ?? []);
    // An incomplete scan of this workspace is not a reason to restart or remove it.
    if (snapshot !== undefined && snapshot.errors.length > 0) {
      decision.notes.push({
        level: 'warn',
        msg: 'incomplete scan; leaving it as it is',
        fields: { workspace: name, errors: snapshot.errors },
      });
      workspaces.set(name, ws);
      continue;
    }
    const volumes = volumesOf.get(name) ?? [];
    const one = decideWorkspace(ws, snapshot, seen, options, volumes);
    decision.notes.push(...one.notes);
    if (one.action === undefined && !one.forget) one.action = pruneVolumes(one.ws, volumes);
    if (one.forget && one.action === undefined) {
      workspaces.delete(name);
      decision.forgotten.push(name);
      continue;
    }
    if (one.action !== undefined) {
      decision.actions.push(one.action);
      workspaces.set(name, { ...one.ws, busy: true });
    } else {
      workspaces.set(name, one.ws);
    }
    if (one.wakeAtMs !== undefined) {
      decision.wakeAtMs = Math.min(decision.wakeAtMs ?? Infinity, one.wakeAtMs);
    }
  }
  return decision;
}

interface WorkspaceDecision {
  ws: WorkspaceMemory;
  action?: Action;
  forget?: boolean;
  notes: Note[];
  wakeAtMs?: number;
}

const STOPPED_MESSAGE = 'stopped from the dashboard or API; press start to run it';

function decideWorkspace(
  start: WorkspaceMemory,
  snapshot: WorkspaceSnapshot | undefined,
  seen: Observation,
  options: DecideOptions,
  volumes: readonly ManagedVolume[],
): WorkspaceDecision {
  let ws = start;
  const name = ws.name;
  const now = seen.now;
  const stopped = seen.stopped.has(name);
  const notes: Note[] = [];
  const removeAll = (why: string, forget: boolean): WorkspaceDecision => ({
    ws,
    notes,
    forget,
    action: {
      type: 'remove',
      workspace: name,
      containers: ws.containers,
      volumes: forget ? volumes.map((v) => v.name) : [],
      why,
      afterMs: 0,
      forget,
    },
  });
  if (snapshot === undefined) {
    return ws.containers.length > 0 || volumes.length > 0
      ? removeAll('workspace removed', true)
      : { ws, forget: true, notes };
  }
  const detection = ws.detection;
  if (detection === undefined || detection.kind !== 'runnable') {
    const reason = detection?.reason ?? 'not detected yet';
    ws = show(ws, detection?.kind === 'unrecognized' ? 'unrecognized' : 'error', reason, null);
    return ws.containers.length > 0 ? removeAll(reason, false) : { ws, notes };
  }
  if (stopped) {
    if (ws.containers.length > 0) return removeAll('stopped by user', false);
    return { ws: show(ws, 'stopped', STOPPED_MESSAGE, null), notes };
  }
  // Adopt a running container when nothing serves yet (monitor restart).
  if (ws.serving === undefined) {
    const candidate = bestRunning(ws, snapshot.fingerprint);
    if (candidate !== undefined) {
      ws = serveFrom(ws, candidate);
      notes.push({
        level: 'info',
        msg: 'adopted running container',
        fields: { workspace: name, container: candidate.name },
      });
      if (candidate.fingerprint === snapshot.fingerprint) {
        ws = show(ws, 'running', null, candidate.startedAtMs ?? now);
      }
    }
  }
  const serving = ws.serving;
  // The runtime brings it back by itself (a Swarm task restarted, or moved off a node
  // that went down): nothing to do but wait; no route until it answers again.
  if (serving?.status === 'restarting') {
    const exited =
      serving.exitCode === null ? '' : ` after it exited with code ${serving.exitCode}`;
    return { ws: show(ws, 'restarting', `the runtime is restarting it${exited}`, null), notes };
  }
  // The serving container died: show it as crashing, back off, then redeploy.
  if (serving !== undefined && serving.status !== 'running') {
    return { ws, notes, action: { type: 'collect-crash', workspace: name, container: serving } };
  }
  // Leftovers (exited replacements, duplicates) go.
  const extras = ws.containers.filter((c) => c.id !== serving?.id);
  if (extras.length > 0) {
    return {
      ws,
      notes,
      action: {
        type: 'remove',
        workspace: name,
        containers: extras,
        volumes: [],
        why: 'not the serving container',
        afterMs: 0,
        forget: false,
      },
    };
  }
  const wanted = snapshot.fingerprint;
  if (serving?.fingerprint === wanted && ws.redeploy === undefined) {
    if (ws.shown.state !== 'running') ws = show(ws, 'running', null, ws.shown.startedAtMs ?? now);
    if (ws.deploy !== undefined) return { ws, notes };
    // Serving, but never checked (adopted after a monitor restart, or the last check failed):
    // read back what it copied, and replace it if that is not what the scan saw.
    return {
      ws,
      notes,
      action: {
        type: 'check',
        workspace: name,
        container: serving,
        snapshot,
        dependencies: dependenciesOf(snapshot, detection.plan, options),
      },
    };
  }
  if (ws.redeploy?.skipWaits !== true) {
    const stableAt = ws.fingerprintSinceMs + options.debounceMs;
    if (now < stableAt) return { ws, notes, wakeAtMs: stableAt };
    if (ws.crash?.fingerprint === wanted && now < ws.crash.retryAtMs) {
      return { ws, notes, wakeAtMs: ws.crash.retryAtMs };
    }
  }
  if (!seen.deploys.ok) {
    // Nothing new starts; what serves keeps serving.
    if (serving === undefined) ws = show(ws, 'error', seen.deploys.reason, null);
    return { ws, notes };
  }
  const why = ws.redeploy?.why ?? (serving === undefined ? 'starting' : 'files changed');
  return {
    ws: { ...ws, redeploy: ws.redeploy?.skipWaits === true ? undefined : ws.redeploy },
    notes,
    action: {
      type: 'deploy',
      workspace: name,
      snapshot,
      plan: detection.plan,
      dependencies: dependenciesOf(snapshot, detection.plan, options),
      why,
      previous: serving,
    },
  };
}

function dependenciesOf(
  snapshot: WorkspaceSnapshot,
  plan: RunPlan,
  options: DecideOptions,
): DependencyPlan {
  const deps = dependencyPlan(snapshot, plan);
  if (deps.kind === 'cached' && !options.dependencyCache) {
    return { kind: 'uncached', why: 'RUNTIME_DEPENDENCY_CACHE is off' };
  }
  return deps;
}

/**
 * Dependency caches no container of the workspace uses, other than its last
 * container's. A workspace with no container this monitor started or found
 * (after scripts/stack-down.sh, then `up`) keeps them all: its first deploy
 * reuses the one its files need, and the others go after it.
 */
function pruneVolumes(ws: WorkspaceMemory, volumes: readonly ManagedVolume[]): Action | undefined {
  if (ws.containers.length === 0 && ws.dependencyKey === undefined) return undefined;
  const used = new Set(ws.containers.map((c) => c.dependencyKey));
  const unused = volumes.filter(
    (v) => !used.has(v.dependencyKey) && v.dependencyKey !== ws.dependencyKey,
  );
  if (unused.length === 0) return undefined;
  return {
    type: 'remove',
    workspace: ws.name,
    containers: [],
    volumes: unused.map((v) => v.name),
    why: 'dependency caches no container uses',
    afterMs: 0,
    forget: false,
  };
}

function groupByWorkspace<T extends { workspace: string }>(items: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const list = out.get(item.workspace) ?? [];
    list.push(item);
    out.set(item.workspace, list);
  }
  return out;
}
