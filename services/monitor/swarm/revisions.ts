import { LABELS, type ContainerStatus, type ManagedContainer } from '../containers/types.ts';
import {
  REVISION_LABEL,
  TASK_STATES,
  type SwarmService,
  type SwarmTask,
  type TaskState,
} from './types.ts';

/**
 * One deploy of a workspace's service, as the supervisor sees a container:
 * the service's current spec, or an older one whose tasks still run (a
 * rollout in progress).
 */
export interface Revision {
  container: ManagedContainer;
  /** The service's current spec. */
  current: boolean;
  /** Its tasks, newest first. */
  tasks: SwarmTask[];
}

/** `<service ID>:<revision>`: a revision's ManagedContainer id. */
export function revisionId(serviceId: string, revision: string): string {
  return `${serviceId}:${revision}`;
}

export function parseRevisionId(id: string): { serviceId: string; revision: string } | undefined {
  const colon = id.indexOf(':');
  if (colon <= 0 || colon === id.length - 1) return undefined;
  return { serviceId: id.slice(0, colon), revision: id.slice(colon + 1) };
}

const order = (state: TaskState): number => TASK_STATES.indexOf(state);

/** The orchestrator still wants it to run (desired new..running; `ready` while a restart waits its delay). */
export function isLive(task: SwarmTask): boolean {
  return order(task.DesiredState) <= order('running');
}

/** Ended on its own or was lost with its node (still `running` on a node nobody hears from). */
function failed(task: SwarmTask): boolean {
  const state = task.Status.State;
  if (state === 'failed' || state === 'rejected' || state === 'orphaned' || state === 'complete') {
    return true;
  }
  return !isLive(task) && (state === 'running' || state === 'starting');
}

/** The exit code of a task whose container ran and ended (failed or complete). */
export function exitCodeOf(task: SwarmTask): number | undefined {
  const state = task.Status.State;
  const container = task.Status.ContainerStatus;
  if (state !== 'failed' && state !== 'complete') return undefined;
  if (container?.ContainerID === undefined || container.ContainerID === '') return undefined;
  return container.ExitCode;
}

function revisionOf(task: SwarmTask): string {
  return task.Spec.ContainerSpec?.Labels?.[REVISION_LABEL] ?? '';
}

function timeOf(text: string | undefined): number {
  const ms = text === undefined ? NaN : Date.parse(text);
  return Number.isNaN(ms) ? 0 : ms;
}

/** Its address on the network (without the prefix length), if attached. */
export function taskAddress(task: SwarmTask, network: string): string | undefined {
  for (const attachment of task.NetworksAttachments ?? []) {
    if (attachment.Network.Spec?.Name !== network && attachment.Network.ID !== network) continue;
    const address = attachment.Addresses?.[0];
    if (address !== undefined) return address.split('/')[0];
  }
  return undefined;
}

/**
 * The revisions of one service from its tasks. Pure. Status: `running` while
 * a task is ready (its health check passed: it answers on its port) or, with
 * no failure yet, started; `restarting` when nothing is ready, a task of this
 * revision failed or was lost with its node, and the orchestrator is starting
 * another; `created` before any task started; `exited` when none is meant to
 * run any more. `ip` and `addresses` are the ready tasks' addresses on the
 * network, by slot.
 */
export function revisionsOf(
  service: SwarmService,
  tasks: readonly SwarmTask[],
  network: string,
): Revision[] {
  const groups = new Map<string, SwarmTask[]>();
  groups.set(service.revision, []);
  for (const task of tasks) {
    if (task.ServiceID !== service.ID) continue;
    const key = revisionOf(task);
    const list = groups.get(key) ?? [];
    list.push(task);
    groups.set(key, list);
  }
  const out: Revision[] = [];
  for (const [revision, list] of groups) {
    if (revision === '') continue;
    const sorted = [...list].sort((a, b) => timeOf(b.CreatedAt) - timeOf(a.CreatedAt));
    const current = revision === service.revision;
    const labels = current
      ? service.labels
      : (sorted[0]?.Spec.ContainerSpec?.Labels ?? service.labels);
    out.push({
      current,
      tasks: sorted,
      container: viewOf(service, revision, current, labels, sorted, network),
    });
  }
  return out;
}

function viewOf(
  service: SwarmService,
  revision: string,
  current: boolean,
  labels: Record<string, string>,
  tasks: readonly SwarmTask[],
  network: string,
): ManagedContainer {
  const live = tasks.filter(isLive);
  const ready = live
    .filter((t) => t.Status.State === 'running')
    .sort((a, b) => (a.Slot ?? 0) - (b.Slot ?? 0));
  const started = live.filter((t) => t.Status.State === 'starting');
  const failures = tasks.filter(failed);
  let status: ContainerStatus;
  if (ready.length > 0) status = 'running';
  else if (failures.length > 0) status = live.length > 0 ? 'restarting' : 'exited';
  else if (started.length > 0) status = 'running';
  else if (live.length > 0 || (current && tasks.length === 0 && service.replicas > 0)) {
    status = 'created';
  } else status = 'exited';
  const addresses = ready.flatMap((t) => {
    const address = taskAddress(t, network);
    return address === undefined ? [] : [address];
  });
  const ended = tasks
    .filter((t) => exitCodeOf(t) !== undefined)
    .sort((a, b) => timeOf(b.Status.Timestamp) - timeOf(a.Status.Timestamp));
  const last = ended[0];
  const exitCode = status === 'running' || last === undefined ? null : (exitCodeOf(last) ?? null);
  const startedAt = ready.map((t) => timeOf(t.Status.Timestamp)).filter((ms) => ms > 0);
  const createdAt = current
    ? service.updatedAtMs
    : Math.min(...tasks.map((t) => timeOf(t.CreatedAt)));
  const container: ManagedContainer = {
    id: revisionId(service.ID, revision),
    name: revision,
    workspace: labels[LABELS.workspace] ?? '',
    fingerprint: labels[LABELS.fingerprint] ?? '',
    type: labels[LABELS.type] ?? '',
    port: Number(labels[LABELS.port] ?? 0),
    status,
    exitCode,
    ip: addresses[0] ?? null,
    createdAtMs: Number.isFinite(createdAt) ? createdAt : 0,
    startedAtMs: startedAt.length === 0 ? null : Math.min(...startedAt),
    dependencyKey: labels[LABELS.dependencyKey] ?? null,
  };
  if (addresses.length > 1) container.addresses = addresses;
  return container;
}

/** What the first tasks of a new revision came to. */
export type StartProgress =
  | { kind: 'started' }
  | { kind: 'waiting'; task: SwarmTask | undefined }
  /** A task could not start: refused by its node (no such image, no bind source), or by the scheduler. */
  | { kind: 'refused'; task: SwarmTask };

/**
 * Whether a new revision got a task started (its container ran: it reached
 * `starting`, or ended with an exit code), a task was refused (rejected by
 * its node, as for a missing image or bind source; failed without running;
 * or held by the scheduler with an error such as "no suitable node"), or it
 * is still on its way. Pure.
 */
export function startProgress(revision: Revision): StartProgress {
  const { tasks } = revision;
  const ran = (t: SwarmTask) =>
    t.Status.State === 'starting' || t.Status.State === 'running' || exitCodeOf(t) !== undefined;
  if (tasks.some(ran)) return { kind: 'started' };
  const refused = tasks.find(
    (t) =>
      t.Status.State === 'rejected' ||
      t.Status.State === 'failed' ||
      (t.Status.State === 'pending' && (t.Status.Err ?? '') !== ''),
  );
  if (refused !== undefined) return { kind: 'refused', task: refused };
  return { kind: 'waiting', task: tasks[0] };
}
