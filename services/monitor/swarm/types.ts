/**
 * The parts of the Docker Engine's Swarm objects (API 1.41) that the Swarm
 * runtime reads. Plain data, as the engine returns it.
 */

/** Task states in the order a task goes through them (swarmkit's TaskState). */
export const TASK_STATES = [
  'new',
  'allocated',
  'pending',
  'assigned',
  'accepted',
  'preparing',
  'ready',
  'starting',
  'running',
  'complete',
  'shutdown',
  'failed',
  'rejected',
  'remove',
  'orphaned',
] as const;

export type TaskState = (typeof TASK_STATES)[number];

export interface SwarmTask {
  ID: string;
  ServiceID: string;
  NodeID?: string;
  Slot?: number;
  CreatedAt: string;
  DesiredState: TaskState;
  Status: {
    Timestamp?: string;
    State: TaskState;
    Message?: string;
    Err?: string;
    ContainerStatus?: { ContainerID?: string; ExitCode?: number };
  };
  Spec: { ContainerSpec?: { Labels?: Record<string, string> } };
  NetworksAttachments?: {
    Network: { ID: string; Spec?: { Name?: string } };
    Addresses?: string[];
  }[];
}

/** A workspace's service: its current spec's labels and the one before (a rollout rolls back to it). */
export interface SwarmService {
  ID: string;
  version: number;
  updatedAtMs: number;
  /** `bucketspace.revision` of the current spec, and its container labels. */
  revision: string;
  labels: Record<string, string>;
  previousRevision: string | undefined;
  replicas: number;
}

/** On service specs and their tasks' containers: which deploy made them (a new one per deploy). */
export const REVISION_LABEL = 'bucketspace.revision';
