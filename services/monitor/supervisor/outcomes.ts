import type { ManagedContainer } from '../containers/types.ts';
import type { Action, DeployAction, Note } from './actions.ts';
import { crashBackoffMs } from './crash-backoff.ts';
import { serveFrom, show, withoutContainers, type WorkspaceMemory } from './workspace-memory.ts';

/** How long to wait before trying again when the runtime image is missing. */
export const MISSING_IMAGE_RETRY_MS = 30_000;

/** What became of a deploy, as the ActionRunner reports it. */
export type DeployOutcome =
  /** The runtime image is not on the engine: nothing was started. */
  | { kind: 'image-missing'; image: string }
  /** The container answers on its port. */
  | { kind: 'ready'; container: ManagedContainer }
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

export function deployCreated(ws: WorkspaceMemory, id: string): WorkspaceMemory {
  return { ...ws, pendingId: id };
}

/**
 * A deploy ended. Ready: the new container serves at once, the previous one
 * is removed after the drain. Failed: the previous one (if any) keeps
 * serving, the failure is shown and this version backs off.
 */
export function deployFinished(
  start: WorkspaceMemory,
  action: DeployAction,
  outcome: DeployOutcome,
  now: number,
  options: OutcomeOptions,
): Transition {
  const ws: WorkspaceMemory = { ...start, pendingId: undefined };
  const fingerprint = action.snapshot.fingerprint;
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
          crash: { fingerprint, failures: 1, retryAtMs: now + MISSING_IMAGE_RETRY_MS },
        },
        actions: [],
        notes: [],
      };
    }
    case 'ready': {
      const serving = serveFrom(ws, outcome.container);
      const next: WorkspaceMemory = {
        ...serving,
        crash: undefined,
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
          fields: { workspace: ws.name, container: outcome.container.name },
        },
      ];
      const actions: Action[] =
        previous === undefined
          ? []
          : [
              {
                type: 'remove',
                workspace: ws.name,
                containers: [previous],
                why: 'replaced by the new container',
                afterMs: options.drainMs,
                forget: false,
              },
            ];
      return { ws: next, actions, notes };
    }
    case 'failed': {
      const failures = failuresOf(ws, fingerprint);
      const delay = crashBackoffMs(failures);
      const what =
        outcome.why === 'exited'
          ? `exited with code ${String(outcome.exitCode ?? 'unknown')} before answering on port ${plan.port}`
          : `did not answer on port ${plan.port} within ${Math.round(options.readyTimeoutMs / 1000)} s`;
      const message =
        `${what}; retrying in ${Math.round(delay / 1000)} s` +
        (previous !== undefined ? ' (the previous version keeps serving)' : '');
      const shown = show(
        ws,
        'crashing',
        message,
        previous === undefined ? null : ws.shown.startedAtMs,
      );
      return {
        ws: {
          ...shown,
          crash: { fingerprint, failures, retryAtMs: now + delay },
          shown: {
            ...shown.shown,
            exitCode: outcome.exitCode,
            lastLogLines: outcome.lastLogLines.slice(-20),
          },
        },
        actions: [],
        notes: [
          {
            level: 'warn',
            msg: `container ${what}`,
            fields: { workspace: ws.name, exitCode: outcome.exitCode, failures },
          },
        ],
      };
    }
  }
}

/** The serving container stopped on its own; its exit code and last lines were read, it was removed. */
export function crashCollected(
  start: WorkspaceMemory,
  dead: ManagedContainer,
  info: { exitCode: number | null; lastLogLines: string[] },
  now: number,
): Transition {
  const ws = withoutContainers(start, [dead.id]);
  const failures = failuresOf(ws, dead.fingerprint);
  const delay = crashBackoffMs(failures);
  return {
    ws: {
      ...ws,
      serving: undefined,
      crash: { fingerprint: dead.fingerprint, failures, retryAtMs: now + delay },
      shown: {
        state: 'crashing',
        message: `exited with code ${String(info.exitCode ?? 'unknown')}; restarting in ${Math.round(delay / 1000)} s`,
        startedAtMs: null,
        restarts: ws.shown.restarts + 1,
        exitCode: info.exitCode,
        lastLogLines: info.lastLogLines.slice(-20),
      },
    },
    actions: [],
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

/** An action failed in a way nobody handled (an engine error): show it; the next pass retries. */
export function actionFailed(ws: WorkspaceMemory, message: string): WorkspaceMemory {
  return show(ws, 'error', message, null);
}

/** Consecutive failures of this version, counting the one that just happened. */
function failuresOf(ws: WorkspaceMemory, fingerprint: string): number {
  return (ws.crash?.fingerprint === fingerprint ? ws.crash.failures : 0) + 1;
}
