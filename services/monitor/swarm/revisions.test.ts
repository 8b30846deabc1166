import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  parseRevisionId,
  revisionId,
  revisionsOf,
  startProgress,
  type Revision,
} from './revisions.ts';
import { REVISION_LABEL, type SwarmService, type SwarmTask, type TaskState } from './types.ts';

const labels = (revision: string, fingerprint: string) => ({
  'bucketspace.managed-by': 'bs',
  'bucketspace.workspace': 'shop',
  'bucketspace.fingerprint': fingerprint,
  'bucketspace.type': 'node',
  'bucketspace.port': '3000',
  [REVISION_LABEL]: revision,
});

const service: SwarmService = {
  ID: 'svc1',
  version: 9,
  updatedAtMs: 5_000,
  revision: 'r2',
  labels: labels('r2', 'f2'),
  previousRevision: 'r1',
  replicas: 1,
};

let n = 0;
function task(
  revision: string,
  state: TaskState,
  extra: Partial<SwarmTask> & { desired?: TaskState; exitCode?: number; ip?: string } = {},
): SwarmTask {
  n += 1;
  const { desired, exitCode, ip, ...rest } = extra;
  return {
    ID: `t${n}`,
    ServiceID: 'svc1',
    NodeID: 'node-a',
    Slot: 1,
    CreatedAt: new Date(1_000 * n).toISOString(),
    DesiredState: desired ?? 'running',
    Status: {
      Timestamp: new Date(1_000 * n + 500).toISOString(),
      State: state,
      ...(exitCode === undefined
        ? { ContainerStatus: { ContainerID: `c${n}` } }
        : { ContainerStatus: { ContainerID: `c${n}`, ExitCode: exitCode } }),
    },
    Spec: { ContainerSpec: { Labels: labels(revision, `f${revision.slice(1)}`) } },
    NetworksAttachments: [
      { Network: { ID: 'net1', Spec: { Name: 'apps' } }, Addresses: [`${ip ?? `10.0.1.${n}`}/24`] },
    ],
    ...rest,
  };
}

function only(revisions: Revision[], name: string): Revision {
  const found = revisions.find((r) => r.container.name === name);
  assert.ok(found, `revision ${name}`);
  return found;
}

describe('revisionsOf', () => {
  test('a ready task: running, routed to its address, labels read back', () => {
    const r = only(revisionsOf(service, [task('r2', 'running', { ip: '10.0.1.7' })], 'apps'), 'r2');
    assert.equal(r.current, true);
    assert.deepEqual(
      {
        id: r.container.id,
        workspace: r.container.workspace,
        fingerprint: r.container.fingerprint,
        port: r.container.port,
        status: r.container.status,
        ip: r.container.ip,
        addresses: r.container.addresses,
        createdAtMs: r.container.createdAtMs,
      },
      {
        id: 'svc1:r2',
        workspace: 'shop',
        fingerprint: 'f2',
        port: 3000,
        status: 'running',
        ip: '10.0.1.7',
        addresses: undefined,
        createdAtMs: 5_000,
      },
    );
  });

  test('started but not yet healthy: running without an address (the deploy waits for it)', () => {
    const r = only(revisionsOf(service, [task('r2', 'starting')], 'apps'), 'r2');
    assert.equal(r.container.status, 'running');
    assert.equal(r.container.ip, null);
  });

  test('several ready replicas: every address, by slot', () => {
    const tasks = [
      task('r2', 'running', { Slot: 2, ip: '10.0.1.22' }),
      task('r2', 'running', { Slot: 1, ip: '10.0.1.21' }),
      task('r2', 'starting', { Slot: 3, ip: '10.0.1.23' }),
    ];
    const r = only(revisionsOf(service, tasks, 'apps'), 'r2');
    assert.equal(r.container.ip, '10.0.1.21');
    assert.deepEqual(r.container.addresses, ['10.0.1.21', '10.0.1.22']);
  });

  test('crashed, Swarm starting another: restarting, with the exit code', () => {
    const tasks = [
      task('r2', 'failed', { desired: 'shutdown', exitCode: 3 }),
      task('r2', 'pending', { desired: 'ready' }),
    ];
    const r = only(revisionsOf(service, tasks, 'apps'), 'r2');
    assert.equal(r.container.status, 'restarting');
    assert.equal(r.container.exitCode, 3);
    assert.equal(r.container.ip, null);
  });

  test('its node went down (still "running" there, shut down by the orchestrator), a new task starting: restarting', () => {
    const tasks = [
      task('r2', 'running', { desired: 'shutdown', NodeID: 'node-b' }),
      task('r2', 'starting', { NodeID: 'node-a' }),
    ];
    const r = only(revisionsOf(service, tasks, 'apps'), 'r2');
    assert.equal(r.container.status, 'restarting');
    assert.equal(r.container.exitCode, null, 'no exit code for a lost task');
  });

  test('Swarm gave up restarting: exited, the last exit code', () => {
    const tasks = [
      task('r2', 'failed', { desired: 'shutdown', exitCode: 1 }),
      task('r2', 'failed', { desired: 'shutdown', exitCode: 2 }),
    ];
    const r = only(revisionsOf(service, tasks, 'apps'), 'r2');
    assert.equal(r.container.status, 'exited');
    assert.equal(r.container.exitCode, 2);
  });

  test('a rollout: the old revision runs until Swarm shuts it down; its labels come from its tasks', () => {
    const old = task('r1', 'running', { ip: '10.0.1.50' });
    const rolling = revisionsOf(service, [old, task('r2', 'starting')], 'apps');
    const r1 = only(rolling, 'r1');
    assert.equal(r1.current, false);
    assert.equal(r1.container.fingerprint, 'f1');
    assert.equal(r1.container.status, 'running');
    assert.equal(r1.container.ip, '10.0.1.50');
    const done = revisionsOf(
      service,
      [{ ...old, DesiredState: 'shutdown' }, task('r2', 'running')],
      'apps',
    );
    assert.equal(only(done, 'r1').container.status, 'exited');
  });

  test('a new service before its tasks exist: created; tasks of other services are not its', () => {
    const r = only(
      revisionsOf(service, [{ ...task('r2', 'running'), ServiceID: 'other' }], 'apps'),
      'r2',
    );
    assert.equal(r.container.status, 'created');
    assert.equal(r.tasks.length, 0);
  });
});

describe('startProgress', () => {
  const of = (tasks: SwarmTask[]) => only(revisionsOf(service, tasks, 'apps'), 'r2');

  test('started once a container runs (or ran and exited: the deploy sees the crash)', () => {
    assert.equal(startProgress(of([task('r2', 'starting')])).kind, 'started');
    assert.equal(
      startProgress(of([task('r2', 'failed', { desired: 'shutdown', exitCode: 3 })])).kind,
      'started',
    );
  });

  test('refused by its node (no such image) or held by the scheduler with an error', () => {
    const rejected = task('r2', 'rejected', {
      desired: 'shutdown',
      Status: { State: 'rejected', Err: 'No such image: sha256:abc' },
    });
    const progress = startProgress(of([rejected]));
    assert.equal(progress.kind, 'refused');
    assert.equal(progress.kind === 'refused' && progress.task.ID, rejected.ID);
    const unplaceable = task('r2', 'pending', {
      Status: { State: 'pending', Err: 'no suitable node (insufficient resources on 2 nodes)' },
    });
    assert.equal(startProgress(of([unplaceable])).kind, 'refused');
  });

  test('on its way: waiting', () => {
    assert.equal(startProgress(of([task('r2', 'preparing')])).kind, 'waiting');
    assert.equal(startProgress(of([])).kind, 'waiting');
  });
});

test('revision ids', () => {
  assert.equal(revisionId('svc1', 'bucketspace-shop-abc-123'), 'svc1:bucketspace-shop-abc-123');
  assert.deepEqual(parseRevisionId('svc1:r:2'), { serviceId: 'svc1', revision: 'r:2' });
  assert.equal(parseRevisionId('no-colon'), undefined);
  assert.equal(parseRevisionId('svc1:'), undefined);
});
