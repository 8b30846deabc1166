import type { DeployReport } from '../containers/deploy-report.ts';
import type { ManagedContainer } from '../containers/types.ts';
import type { Action, CheckAction, DeployAction, Note } from './actions.ts';
import { crashBackoffMs } from './crash-backoff.ts';
import { checkDeploy } from './deploy-check.ts';
import type { DiskEviction } from './disk-budget.ts';
import {
  evictionOf,
  serveFrom,
  show,
  withoutContainers,
  type WorkspaceMemory,
} from './workspace-memory.ts';

/** How long to wait before trying again when the runtime image is missing. */
export const MISSING_IMAGE_RETRY_MS = 30_000;

/** What became of a deploy, as the ActionRunner reports it. */
export type DeployOutcome =
  /** The runtime image is not on the engine: nothing was started. */
  | { kind: 'image-missing'; image: string }
  /**
   * The container answers on its port; `report` is what its entrypoint
   * reported of the start (undefined: the image writes none).
   */
  | { kind: 'ready'; container: ManagedContainer; report: DeployReport | undefined }
  /** The monitor is shutting down: the new container was removed again. */
  | { kind: 'aborted' }
  /** It exited or did not answer in time; it was removed, these are its last words. */
  | {
      kind: 'failed';
      why: 'exited' | 'timeout';
      exitCode: number | null;
      lastLogLines: string[];
    };

export interface OutcomeOptions {
  readyTimeoutMs: number;
  /** Time the old container keeps serving in-flight requests after the switch. */
  drainMs: number;
}

export interface Transition {
  ws: WorkspaceMemory;
  /** Follow-up work, run in the same task (the workspace stays busy). */
  actions: Action[];
  notes: Note[];
}

/** A deploy got its turn and the image is there: say so while the container starts. */
export function deployStarting(ws: WorkspaceMemory, action: DeployAction): WorkspaceMemory {
  const { plan, why, previous } = action;
  return previous === undefined
    ? show(ws, 'starting', `starting ${plan.type} container; waiting for port ${plan.port}`, null)
    : show(
        ws,
        'restarting',
        `${why}: starting a replacement; the current container keeps serving`,
        ws.shown.startedAtMs,
      );
}

/** The container exists (its logs can be followed); `dependencyKey` is the cache it uses. */
export function deployCreated(
  ws: WorkspaceMemory,
  id: string,
  dependencyKey: string | undefined,
): WorkspaceMemory {
  return { ...ws, pendingId: id, dependencyKey: dependencyKey ?? ws.dependencyKey };
}

/**
 * A deploy ended. Ready, and its copy matches the scan: the new container
 * serves at once, the previous one is removed after the drain. Otherwise the
 * previous one (if any) keeps serving, the failure is shown and this version
 * backs off; a container whose copy does not match is removed.
 */
export function deployFinished(
  start: WorkspaceMemory,
  action: DeployAction,
  outcome: DeployOutcome,
  now: number,
  options: OutcomeOptions,
): Transition {
  const ws: WorkspaceMemory = { ...start, pendingId: undefined };
  const { plan, previous } = action;
  switch (outcome.kind) {
    case 'aborted':
      return { ws, actions: [], notes: [] };
    case 'image-missing': {
      const message =
        `image ${outcome.image} for ${plan.type} workspaces is missing: build it (scripts/build-local-images.sh) ` +
        `or set RUNTIME_IMAGE_${plan.type.toUpperCase()}`;
      return {
        ws: {
          ...show(ws, 'error', message, null),
          crash: {
            fingerprint: action.snapshot.fingerprint,
            failures: 1,
            retryAtMs: now + MISSING_IMAGE_RETRY_MS,
          },
        },
        actions: [],
        notes: [],
      };
    }
    case 'ready': {
      const check = checkDeploy(action.snapshot, action.dependencies, outcome.report);
      if (!check.ok) {
        const failed = startFailed(
          ws,
          action,
          check.reason,
          { exitCode: null, lastLogLines: [] },
          now,
        );
        return {
          ...failed,
          actions: [removal(ws.name, [outcome.container], 'its copy does not match the scan', 0)],
        };
      }
      const next: WorkspaceMemory = {
        ...serveFrom(ws, outcome.container, check.view),
        crash: undefined,
        redeploy: undefined,
        shown: {
          state: 'running',
          message: null,
          startedAtMs: now,
          restarts: ws.shown.restarts + (previous === undefined ? 0 : 1),
          exitCode: null,
          lastLogLines: [],
        },
      };
      const notes: Note[] = [
        {
          level: 'info',
          msg: 'serving new container',
          fields: {
            workspace: ws.name,
            container: outcome.container.name,
            copy: check.view.copy,
            files: check.view.files,
            dependencies: check.view.dependencies,
          },
        },
      ];
      const actions =
        previous === undefined
          ? []
          : [removal(ws.name, [previous], 'replaced by the new container', options.drainMs)];
      return { ws: next, actions, notes };
    }
    case 'failed': {
      const eviction =
        start.pendingId === undefined ? undefined : evictionOf(start, start.pendingId);
      const what =
        eviction !== undefined
          ? eviction.reason
          : outcome.why === 'exited'
            ? `exited with code ${String(outcome.exitCode ?? 'unknown')} before answering on port ${plan.port}`
            : `did not answer on port ${plan.port} within ${Math.round(options.readyTimeoutMs / 1000)} s`;
      const failed = startFailed({ ...ws, evicted: undefined }, action, what, outcome, now);
      return {
        ...failed,
        actions: dropCache(ws.name, eviction),
        notes: [
          {
            level: 'warn',
            msg: `container ${what}`,
            fields: {
              workspace: ws.name,
              exitCode: outcome.exitCode,
              failures: failed.ws.crash?.failures,
            },
          },
        ],
      };
    }
  }
}

/**
 * What an adopted container reported of its start, judged against the scan.
 * A copy that does not match gets it replaced (it keeps serving meanwhile).
 */
export function checkFinished(
  ws: WorkspaceMemory,
  action: CheckAction,
  report: DeployReport | undefined,
): Transition {
  if (ws.serving?.id !== action.container.id) return { ws, actions: [], notes: [] };
  const check = checkDeploy(action.snapshot, action.dependencies, report);
  if (check.ok) return { ws: { ...ws, deploy: check.view }, actions: [], notes: [] };
  return {
    ws: { ...ws, redeploy: { why: `adopted container: ${check.reason}`, skipWaits: false } },
    actions: [],
    notes: [
      {
        level: 'warn',
        msg: 'adopted container does not match the scan; replacing it',
        fields: { workspace: ws.name, container: action.container.name, reason: check.reason },
      },
    ],
  };
}

/**
 * The serving container stopped (on its own, or stopped for its disk use:
 * then that is the reason shown, and its dependency cache goes); its exit
 * code and last lines were read, it was removed.
 */
export function crashCollected(
  start: WorkspaceMemory,
  dead: ManagedContainer,
  info: { exitCode: number | null; lastLogLines: string[] },
  now: number,
): Transition {
  const ws = withoutContainers(start, [dead.id]);
  const failures = failuresOf(ws, dead.fingerprint);
  const delay = crashBackoffMs(failures);
  const eviction = evictionOf(start, dead.id);
  const what = eviction?.reason ?? `exited with code ${String(info.exitCode ?? 'unknown')}`;
  return {
    ws: {
      ...ws,
      serving: undefined,
      deploy: undefined,
      evicted: undefined,
      crash: { fingerprint: dead.fingerprint, failures, retryAtMs: now + delay },
      shown: {
        state: 'crashing',
        message: `${what}; restarting in ${Math.round(delay / 1000)} s`,
        startedAtMs: null,
        restarts: ws.shown.restarts + 1,
        exitCode: info.exitCode,
        lastLogLines: info.lastLogLines.slice(-20),
      },
    },
    actions: dropCache(ws.name, eviction),
    notes: [
      {
        level: 'warn',
        msg: 'container crashed',
        fields: { workspace: ws.name, exitCode: info.exitCode, failures },
      },
    ],
  };
}

/** The containers were stopped and removed; with the serving one gone nothing has started. */
export function containersRemoved(
  start: WorkspaceMemory,
  removed: readonly ManagedContainer[],
): WorkspaceMemory {
  const ws = withoutContainers(
    start,
    removed.map((c) => c.id),
  );
  return ws.serving === undefined ? { ...ws, shown: { ...ws.shown, startedAtMs: null } } : ws;
}

/**
 * An action failed in a way nobody handled (an engine error): show it. A
 * deploy backs off like a failed start, so a lasting engine error is not
 * retried in a tight loop; anything else is retried by the next pass.
 */
export function actionFailed(
  ws: WorkspaceMemory,
  action: Action,
  message: string,
  now: number,
): WorkspaceMemory {
  const shown = show(
    { ...ws, pendingId: undefined },
    'error',
    message,
    ws.serving === undefined ? null : ws.shown.startedAtMs,
  );
  if (action.type !== 'deploy') return shown;
  const fingerprint = action.snapshot.fingerprint;
  const failures = failuresOf(ws, fingerprint);
  return { ...shown, crash: { fingerprint, failures, retryAtMs: now + crashBackoffMs(failures) } };
}

/** A start that did not become the serving container: the previous one keeps serving. */
function startFailed(
  ws: WorkspaceMemory,
  action: DeployAction,
  what: string,
  last: { exitCode: number | null; lastLogLines: string[] },
  now: number,
): Transition {
  const fingerprint = action.snapshot.fingerprint;
  const failures = failuresOf(ws, fingerprint);
  const delay = crashBackoffMs(failures);
  const message =
    `${what}; retrying in ${Math.round(delay / 1000)} s` +
    (action.previous !== undefined ? ' (the previous version keeps serving)' : '');
  const shown = show(
    ws,
    'crashing',
    message,
    action.previous === undefined ? null : ws.shown.startedAtMs,
  );
  return {
    ws: {
      ...shown,
      crash: { fingerprint, failures, retryAtMs: now + delay },
      shown: {
        ...shown.shown,
        exitCode: last.exitCode,
        lastLogLines: last.lastLogLines.slice(-20),
      },
    },
    actions: [],
    notes: [
      {
        level: 'warn',
        msg: `new container not served: ${what}`,
        fields: { workspace: ws.name, failures },
      },
    ],
  };
}

/**
 * A container stopped for its disk use may have filled its dependency cache:
 * remove that volume (a container still using it keeps it), so the next
 * start installs afresh.
 */
function dropCache(workspace: string, eviction: DiskEviction | undefined): Action[] {
  if (eviction === undefined || eviction.volumes.length === 0) return [];
  return [
    {
      type: 'remove',
      workspace,
      containers: [],
      volumes: eviction.volumes,
      why: 'its container went over the disk budget',
      afterMs: 0,
      forget: false,
    },
  ];
}

function removal(
  workspace: string,
  containers: ManagedContainer[],
  why: string,
  afterMs: number,
): Action {
  return { type: 'remove', workspace, containers, volumes: [], why, afterMs, forget: false };
}

/** Consecutive failures of this version, counting the one that just happened. */
function failuresOf(ws: WorkspaceMemory, fingerprint: string): number {
  return (ws.crash?.fingerprint === fingerprint ? ws.crash.failures : 0) + 1;
}
