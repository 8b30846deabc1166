import type { ManagedContainer } from '../containers/types.ts';
import type { DependencyPlan } from '../detect/dependency-manifest.ts';
import type { RunPlan, WorkspaceSnapshot } from '../types.ts';

/**
 * What the supervisor's decisions ask of the container runtime. Plain data:
 * decide.ts and outcomes.ts produce them, the ActionRunner carries them out,
 * and what happened comes back as an outcome (outcomes.ts).
 */
export type Action =
  /** Start a container for this version next to `previous` (which keeps serving until it is ready). */
  | {
      type: 'deploy';
      workspace: string;
      snapshot: WorkspaceSnapshot;
      plan: RunPlan;
      dependencies: DependencyPlan;
      why: string;
      previous: ManagedContainer | undefined;
    }
  /** Read what an adopted container reported of its start, to check it against the scan. */
  | {
      type: 'check';
      workspace: string;
      container: ManagedContainer;
      snapshot: WorkspaceSnapshot;
      dependencies: DependencyPlan;
    }
  /** The serving container stopped: read its exit code and last lines, then remove it. */
  | { type: 'collect-crash'; workspace: string; container: ManagedContainer }
  /**
   * Stop and remove these containers (after `afterMs`: the old one drains
   * in-flight requests), then these dependency-cache volumes.
   */
  | {
      type: 'remove';
      workspace: string;
      containers: readonly ManagedContainer[];
      volumes: readonly string[];
      why: string;
      afterMs: number;
      /** The workspace is gone: forget it once its containers are. */
      forget: boolean;
    };

/** A log line a decision asks for (decisions do not log themselves). */
export interface Note {
  level: 'info' | 'warn' | 'error';
  msg: string;
  fields: Record<string, unknown>;
}

export type DeployAction = Extract<Action, { type: 'deploy' }>;
export type CheckAction = Extract<Action, { type: 'check' }>;
export type RemoveAction = Extract<Action, { type: 'remove' }>;
