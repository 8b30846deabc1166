// The supervisor's decisions, one reconcile pass at a time, with a fake clock: every case
// test/monitor.test.ts drives through a real Docker engine, here without one.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ManagedContainer, ManagedVolume } from '../containers/types.ts';
import { detectWorkspace } from '../detect/detect-workspace.ts';
import type { ScanResult, WorkspaceSnapshot } from '../types.ts';
import type { DeployReport } from '../containers/deploy-report.ts';
import type { DeployGate } from '../isolation/isolation-schedule.ts';
import type { Action, CheckAction, DeployAction } from './actions.ts';
import { decide, type Decision } from './decide.ts';
import {
  actionFailed,
  checkFinished,
  containersRemoved,
  crashCollected,
  deployCreated,
  deployFinished,
  type DeployOutcome,
  type Transition,
} from './outcomes.ts';
import { markEvicted, viewOf, type WorkspaceMemory } from './workspace-memory.ts';

const DEBOUNCE = 1_000;
const OUTCOME = { readyTimeoutMs: 60_000, drainMs: 1_000 };

function snapshot(name: string, fingerprint: string, pkg: object | string): WorkspaceSnapshot {
  const text = typeof pkg === 'string' ? pkg : JSON.stringify(pkg);
  return {
    name,
    dir: `/workspaces/${name}`,
    fingerprint,
    fileCount: 2,
    lastChangeMs: 1_700_000_000_000,
    probe: {
      name,
      files: new Set(['package.json', 'server.js']),
      texts: new Map([['package.json', text]]),
    },
    files: [
      { relPath: 'package.json', size: text.length, mtimeMs: 1_700_000_000_000 },
      { relPath: 'server.js', size: 100, mtimeMs: 1_700_000_000_000 },
    ],
    hashes: new Map(),
    errors: [],
  };
}

const app = (name: string, fingerprint: string) =>
  snapshot(name, fingerprint, { scripts: { start: 'node server.js' } });

let ids = 0;
function container(
  workspace: string,
  fingerprint: string,
  extra: Partial<ManagedContainer> = {},
): ManagedContainer {
  ids += 1;
  return {
    id: `c${ids}`,
    name: `bucketspace-${workspace}-${fingerprint}-${ids}`,
    workspace,
    fingerprint,
    type: 'node',
    port: 3000,
    status: 'running',
    exitCode: null,
    ip: `172.30.0.${ids}`,
    createdAtMs: ids * 1000,
    startedAtMs: ids * 1000,
    dependencyKey: null,
    ...extra,
  };
}

/**
 * The supervisor's loop without an engine: a fake clock, the memory, and
 * what the engine would list. `pass()` runs decide; the outcome helpers
 * apply what the ActionRunner would report.
 */
class World {
  now = 1_000_000;
  memory = new Map<string, WorkspaceMemory>();
  scan: ScanResult = { mount: 'ok', workspaces: new Map() };
  engine: ManagedContainer[] = [];
  volumes: ManagedVolume[] = [];
  stopped = new Set<string>();
  stale = new Set<string>();
  deploys: DeployGate = { ok: true };

  advance(ms: number): void {
    this.now += ms;
  }

  files(...snapshots: WorkspaceSnapshot[]): void {
    this.scan = { mount: 'ok', workspaces: new Map(snapshots.map((s) => [s.name, s])) };
  }

  pass(): Decision {
    const decision = decide(
      this.memory,
      {
        scan: this.scan,
        containers: this.engine,
        volumes: this.volumes,
        stopped: this.stopped,
        stale: this.stale,
        deploys: this.deploys,
        now: this.now,
      },
      { debounceMs: DEBOUNCE, detect: detectWorkspace, dependencyCache: true },
    );
    this.memory = decision.workspaces;
    return decision;
  }

  ws(name: string): WorkspaceMemory {
    const ws = this.memory.get(name);
    assert.ok(ws !== undefined, `${name} is remembered`);
    return ws;
  }

  set(name: string, fn: (ws: WorkspaceMemory) => WorkspaceMemory): void {
    this.memory.set(name, fn(this.ws(name)));
  }

  /** A workspace whose container runs and serves, as after a monitor restart (adopted, checked). */
  serving(name: string, fingerprint: string): ManagedContainer {
    const running = container(name, fingerprint);
    this.engine.push(running);
    this.files(app(name, fingerprint));
    const check = only(this.pass());
    assert.ok(check.type === 'check', `a check, not ${check.type}`);
    this.checked(check, reportOf(check.snapshot));
    return running;
  }

  /** The ActionRunner read the adopted container's report. */
  checked(action: CheckAction, report: DeployReport | undefined): Transition {
    const t = checkFinished(this.ws(action.workspace), action, report);
    this.memory.set(action.workspace, { ...t.ws, busy: false });
    return t;
  }

  /** Let the debounce of the files last seen pass, and take the deploy that follows. */
  deployWhenQuiet(): DeployAction {
    this.pass();
    this.advance(DEBOUNCE);
    return deployOf(this.pass());
  }

  /** The ActionRunner reports how the deploy ended. */
  finish(action: DeployAction, outcome: DeployOutcome): WorkspaceMemory {
    const t = deployFinished(this.ws(action.workspace), action, outcome, this.now, OUTCOME);
    this.memory.set(action.workspace, { ...t.ws, busy: false });
    return t.ws;
  }

  /** The deploy became ready: its container is on the engine and serves. */
  ready(action: DeployAction): { container: ManagedContainer; followUp: Action[] } {
    const fresh = container(action.workspace, action.snapshot.fingerprint);
    this.engine.push(fresh);
    const t = deployFinished(
      this.ws(action.workspace),
      action,
      { kind: 'ready', container: fresh, report: reportOf(action.snapshot) },
      this.now,
      OUTCOME,
    );
    this.memory.set(action.workspace, { ...t.ws, busy: t.actions.length > 0 });
    return { container: fresh, followUp: t.actions };
  }

  /** The containers of a remove action are gone from the engine. */
  removed(action: Action): void {
    assert.equal(action.type, 'remove');
    if (action.type !== 'remove') return;
    const gone = new Set(action.containers.map((c) => c.id));
    this.engine = this.engine.filter((c) => !gone.has(c.id));
    if (action.forget) {
      this.memory.delete(action.workspace);
      return;
    }
    this.set(action.workspace, (ws) => ({
      ...containersRemoved(ws, action.containers),
      busy: false,
    }));
  }
}

/** What a runtime container reports after copying exactly the scanned files. */
function reportOf(
  snapshot: WorkspaceSnapshot,
  dependencies: DeployReport['dependencies'] = 'none',
): DeployReport {
  return {
    copied: new Map(snapshot.files.map((f) => [f.relPath, { size: f.size, mtimeMs: f.mtimeMs }])),
    dependencies,
  };
}

function only(decision: Decision): Action {
  assert.equal(decision.actions.length, 1, JSON.stringify(decision.actions));
  const [action] = decision.actions;
  assert.ok(action !== undefined);
  return action;
}

function deployOf(decision: Decision): DeployAction {
  const action = only(decision);
  assert.ok(action.type === 'deploy', `a deploy, not ${action.type}`);
  return action;
}

describe('decide', () => {
  test('new: a workspace is deployed once its files have been quiet for the debounce', () => {
    const w = new World();
    w.files(app('alpha', 'f1'));
    const first = w.pass();
    assert.deepEqual(first.actions, []);
    assert.equal(first.wakeAtMs, w.now + DEBOUNCE, 'wakes when the debounce ends');
    assert.ok(
      !first.notes.some((n) => n.msg === 'workspace changed'),
      'a first sighting is no change',
    );
    assert.equal(viewOf(w.ws('alpha')).state, 'pending');
    assert.equal(viewOf(w.ws('alpha')).type, 'node');

    w.advance(DEBOUNCE - 1);
    assert.deepEqual(w.pass().actions, []);
    w.advance(1);
    const deploy = deployOf(w.pass());
    assert.equal(deploy.why, 'starting');
    assert.equal(deploy.previous, undefined);
    assert.equal(deploy.snapshot.fingerprint, 'f1');
    assert.equal(deploy.plan.start, 'npm start');
    assert.equal(w.ws('alpha').busy, true);
    assert.deepEqual(w.pass().actions, [], 'nothing more while the deploy runs');

    const { container, followUp } = w.ready(deploy);
    assert.deepEqual(followUp, []);
    const view = viewOf(w.ws('alpha'));
    assert.equal(view.state, 'running');
    assert.equal(view.containerId, container.id);
    assert.equal(view.restarts, 0);
    assert.deepEqual(w.pass().actions, [], 'up to date: nothing to do');
  });

  test('apps not kept apart: nothing new starts while the apps firewall is not in place; what serves keeps serving', () => {
    const w = new World();
    const serving = w.serving('alpha', 'f1');
    w.deploys = {
      ok: false,
      reason: 'not started: the apps would not be kept apart (image missing)',
    };
    w.files(app('alpha', 'f2'), app('beta', 'b1'));
    w.pass();
    w.advance(DEBOUNCE);
    assert.deepEqual(w.pass().actions, [], 'no deploy of the change, none of the new workspace');
    assert.equal(viewOf(w.ws('alpha')).state, 'running');
    assert.equal(viewOf(w.ws('alpha')).containerId, serving.id);
    const beta = viewOf(w.ws('beta'));
    assert.equal(beta.state, 'error');
    assert.equal(beta.message, 'not started: the apps would not be kept apart (image missing)');
    // Once the firewall is in place, both go ahead.
    w.deploys = { ok: true };
    const actions = w.pass().actions;
    assert.deepEqual(actions.map((a) => [a.type, a.workspace]).sort(), [
      ['deploy', 'alpha'],
      ['deploy', 'beta'],
    ]);
  });

  test('changed: a new fingerprint waits for the debounce, then a replacement starts beside the serving one', () => {
    const w = new World();
    const serving = w.serving('alpha', 'f1');
    w.advance(10_000);
    w.files(app('alpha', 'f2'));
    const seen = w.pass();
    assert.ok(
      seen.notes.some((n) => n.msg === 'workspace changed' && n.fields.fingerprint === 'f2'),
    );
    assert.deepEqual(seen.actions, []);
    assert.equal(seen.wakeAtMs, w.now + DEBOUNCE);
    // A burst: each change restarts the debounce.
    w.advance(600);
    w.files(app('alpha', 'f3'));
    assert.deepEqual(w.pass().actions, []);
    w.advance(600);
    assert.deepEqual(w.pass().actions, [], 'f3 is only 600 ms old');
    w.advance(400);
    const deploy = deployOf(w.pass());
    assert.equal(deploy.why, 'files changed');
    assert.equal(deploy.snapshot.fingerprint, 'f3');
    assert.equal(deploy.previous?.id, serving.id);

    const { container: fresh, followUp } = w.ready(deploy);
    assert.equal(w.ws('alpha').serving?.id, fresh.id, 'the new one serves at once');
    assert.equal(viewOf(w.ws('alpha')).restarts, 1);
    assert.equal(followUp.length, 1);
    const retire = followUp[0];
    assert.equal(retire?.type, 'remove');
    if (retire?.type === 'remove') {
      assert.deepEqual(
        retire.containers.map((c) => c.id),
        [serving.id],
      );
      assert.equal(retire.afterMs, OUTCOME.drainMs, 'the old one drains first');
    }
  });

  test('no disk limit: a container stopped for its disk use shows why, backs off like a crash, and its dependency cache goes', () => {
    const w = new World();
    w.files(app('filler', 'f1'));
    const { container: started } = w.ready(w.deployWhenQuiet());
    const reason =
      'stopped: it used 80.0 MiB of its 64.0 MiB disk budget (RUNTIME_DISK): 80.0 MiB written in its container';
    w.set('filler', (ws) =>
      markEvicted(ws, {
        workspace: 'filler',
        containerId: started.id,
        reason,
        volumes: ['deps-filler'],
      }),
    );
    // Shown at once, while it is being stopped.
    assert.equal(viewOf(w.ws('filler')).message, reason);
    assert.equal(viewOf(w.ws('filler')).state, 'running');
    w.engine = [{ ...started, status: 'exited', ip: null, exitCode: 143 }];
    const collect = only(w.pass());
    assert.equal(collect.type, 'collect-crash');
    const t = crashCollected(w.ws('filler'), started, { exitCode: 143, lastLogLines: [] }, w.now);
    assert.equal(t.ws.shown.state, 'crashing');
    assert.equal(t.ws.shown.message, `${reason}; restarting in 2 s`);
    assert.equal(t.ws.evicted, undefined);
    assert.deepEqual(t.actions, [
      {
        type: 'remove',
        workspace: 'filler',
        containers: [],
        volumes: ['deps-filler'],
        why: 'its container went over the disk budget',
        afterMs: 0,
        forget: false,
      },
    ]);
    // An ordinary crash says its exit code and drops nothing.
    const plain = crashCollected(
      { ...w.ws('filler'), evicted: undefined },
      started,
      { exitCode: 1, lastLogLines: [] },
      w.now,
    );
    assert.match(String(plain.ws.shown.message), /^exited with code 1; restarting in 2 s$/);
    assert.deepEqual(plain.actions, []);
  });

  test('no disk limit: a replacement stopped for its disk use before it answered is a failed start that says why', () => {
    const w = new World();
    w.serving('filler', 'f1');
    w.files(app('filler', 'f2'));
    const deploy = w.deployWhenQuiet();
    w.set('filler', (ws) => deployCreated(ws, 'pending-1', undefined));
    const reason =
      'stopped: it used 70.0 MiB of its 64.0 MiB disk budget (RUNTIME_DISK): 70.0 MiB written in its container';
    w.set('filler', (ws) =>
      markEvicted(ws, { workspace: 'filler', containerId: 'pending-1', reason, volumes: [] }),
    );
    const failed = w.finish(deploy, {
      kind: 'failed',
      why: 'exited',
      exitCode: 137,
      lastLogLines: [],
    });
    assert.equal(failed.shown.state, 'crashing');
    assert.equal(
      failed.shown.message,
      `${reason}; retrying in 2 s (the previous version keeps serving)`,
    );
    assert.equal(failed.evicted, undefined);
  });

  test('restarted by the runtime itself (a Swarm task on a lost node): waited for, no route, nothing collected; serving again once it answers', () => {
    const w = new World();
    w.files(app('moved', 'f1'));
    const { container: started } = w.ready(w.deployWhenQuiet());
    w.engine = [{ ...started, status: 'restarting', ip: null, exitCode: 137 }];
    w.advance(5_000);
    const waiting = w.pass();
    assert.deepEqual(waiting.actions, []);
    const view = viewOf(w.ws('moved'));
    assert.equal(view.state, 'restarting');
    assert.equal(view.message, 'the runtime is restarting it after it exited with code 137');
    assert.equal(view.startedAt, null);
    assert.equal(view.restarts, 0, 'not counted as a crash the monitor handled');
    w.engine = [{ ...started, status: 'running', ip: '10.0.1.9' }];
    w.advance(5_000);
    assert.deepEqual(w.pass().actions, []);
    assert.equal(viewOf(w.ws('moved')).state, 'running');
    assert.equal(w.ws('moved').serving?.ip, '10.0.1.9', 'the new address is routed to');
  });

  test('crashed: the dead container is collected, the same version backs off (2 s, 4 s, ...), a new version does not', () => {
    const w = new World();
    w.files(app('crashy', 'f1'));
    const { container: started } = w.ready(w.deployWhenQuiet());
    // It dies later.
    w.engine = [{ ...started, status: 'exited', ip: null }];
    w.advance(5_000);
    const collect = only(w.pass());
    assert.equal(collect.type, 'collect-crash');
    const crashed = crashCollected(
      w.ws('crashy'),
      started,
      { exitCode: 3, lastLogLines: ['boom'] },
      w.now,
    );
    w.memory.set('crashy', { ...crashed.ws, busy: false });
    w.engine = [];
    const view = viewOf(w.ws('crashy'));
    assert.equal(view.state, 'crashing');
    assert.equal(view.exitCode, 3);
    assert.deepEqual(view.lastLogLines, ['boom']);
    assert.match(String(view.message), /exited with code 3; restarting in 2 s/);
    assert.equal(view.restarts, 1);

    const waiting = w.pass();
    assert.deepEqual(waiting.actions, []);
    assert.equal(waiting.wakeAtMs, w.now + 2_000);
    w.advance(1_999);
    assert.deepEqual(w.pass().actions, []);
    w.advance(1);
    const retry = deployOf(w.pass());
    assert.equal(retry.why, 'starting');
    // The retry exits before answering: the next wait doubles.
    const failed = w.finish(retry, {
      kind: 'failed',
      why: 'exited',
      exitCode: 3,
      lastLogLines: ['boom'],
    });
    assert.equal(failed.crash?.failures, 2);
    assert.match(
      String(failed.shown.message),
      /exited with code 3 before answering on port 3000; retrying in 4 s/,
    );
    assert.equal(w.pass().wakeAtMs, w.now + 4_000);
    // A fix is deployed after the debounce, without waiting for the backoff.
    w.advance(100);
    w.files(app('crashy', 'f2'));
    assert.equal(w.deployWhenQuiet().snapshot.fingerprint, 'f2');
  });

  test('a deploy that fails keeps the previous version serving', () => {
    const w = new World();
    const serving = w.serving('alpha', 'f1');
    w.files(app('alpha', 'f2'));
    const after = w.finish(w.deployWhenQuiet(), {
      kind: 'failed',
      why: 'timeout',
      exitCode: null,
      lastLogLines: [],
    });
    assert.equal(after.serving?.id, serving.id);
    assert.match(
      String(after.shown.message),
      /did not answer on port 3000 within 60 s; retrying in 2 s \(the previous version keeps serving\)/,
    );
  });

  test('a missing runtime image is an error, retried after 30 s', () => {
    const w = new World();
    w.files(app('alpha', 'f1'));
    const after = w.finish(w.deployWhenQuiet(), { kind: 'image-missing', image: 'x/node' });
    assert.equal(after.shown.state, 'error');
    assert.match(
      String(after.shown.message),
      /image x\/node for node workspaces is missing.*RUNTIME_IMAGE_NODE/,
    );
    assert.equal(w.pass().wakeAtMs, w.now + 30_000);
  });

  test('removed: its containers go, then it is forgotten', () => {
    const w = new World();
    const serving = w.serving('beta', 'f1');
    w.files(app('beta', 'f1'), app('alpha', 'a1'));
    w.pass();
    assert.equal(w.ws('beta').serving?.id, serving.id);
    w.files(app('alpha', 'a1'));
    const remove = only(w.pass());
    assert.equal(remove.type, 'remove');
    if (remove.type === 'remove') {
      assert.equal(remove.why, 'workspace removed');
      assert.equal(remove.forget, true);
      assert.deepEqual(
        remove.containers.map((c) => c.id),
        [serving.id],
      );
    }
    w.removed(remove);
    assert.equal(w.memory.has('beta'), false);
  });

  test('removed while nothing runs: forgotten at once', () => {
    const w = new World();
    w.files(app('gamma', 'g1'), app('alpha', 'a1'));
    w.pass();
    w.files(app('alpha', 'a1'));
    const decision = w.pass();
    assert.deepEqual(decision.forgotten, ['gamma']);
    assert.equal(w.memory.has('gamma'), false);
  });

  test('orphans: containers of a workspace that is not there are removed', () => {
    const w = new World();
    const orphan = container('gone', 'f1');
    w.engine = [orphan];
    w.files(app('alpha', 'a1'));
    const decision = w.pass();
    const remove = decision.actions.find((a) => a.workspace === 'gone');
    assert.equal(remove?.type, 'remove');
  });

  test('mount unavailable: nothing is removed or deployed, what runs keeps its route', () => {
    const w = new World();
    const serving = w.serving('alpha', 'f1');
    w.scan = { mount: 'unavailable', reason: 'ENOTCONN' };
    const broken = w.pass();
    assert.deepEqual(broken.mount, { ok: false, reason: 'ENOTCONN' });
    assert.deepEqual(broken.actions, []);
    assert.deepEqual(broken.forgotten, []);
    assert.equal(w.ws('alpha').serving?.id, serving.id);
    // An empty root while containers run is not trusted either.
    w.scan = { mount: 'ok', workspaces: new Map() };
    const empty = w.pass();
    assert.equal(empty.mount.ok, false);
    assert.match(
      empty.mount.ok ? '' : empty.mount.reason,
      /looks empty while 1 workspace container/,
    );
    assert.deepEqual(empty.actions, []);
    // Back: all as before.
    w.files(app('alpha', 'f1'));
    const back = w.pass();
    assert.equal(back.mount.ok, true);
    assert.deepEqual(back.actions, []);
    assert.equal(viewOf(w.ws('alpha')).state, 'running');
  });

  test('adopted: after a monitor restart the running container serves as it is', () => {
    const w = new World();
    const running = container('alpha', 'f1');
    w.engine = [running];
    w.files(app('alpha', 'f1'));
    const decision = w.pass();
    assert.ok(decision.notes.some((n) => n.msg === 'adopted running container'));
    const check = only(decision);
    assert.ok(check.type === 'check', 'its report is read back');
    assert.equal(check.container.id, running.id);
    const view = viewOf(w.ws('alpha'));
    assert.equal(view.state, 'running', 'it serves meanwhile');
    assert.equal(view.containerId, running.id);
    assert.equal(view.startedAt, new Date(running.startedAtMs ?? 0).toISOString());
    assert.equal(view.deploy, null, 'not checked yet');
    w.checked(check, reportOf(check.snapshot, 'reused'));
    assert.deepEqual(viewOf(w.ws('alpha')).deploy, {
      copy: 'verified',
      files: 2,
      dependencies: 'reused',
      dependencyNote: 'nothing to install',
    });
    assert.deepEqual(w.pass().actions, []);
  });

  test('a serving container whose check did not happen (an engine error) is checked again', () => {
    const w = new World();
    w.engine = [container('alpha', 'f1')];
    w.files(app('alpha', 'f1'));
    const check = only(w.pass());
    assert.ok(check.type === 'check');
    w.set('alpha', (ws) => ({ ...actionFailed(ws, check, 'engine error', w.now), busy: false }));
    assert.equal(only(w.pass()).type, 'check');
  });

  test('adopted, but its copy does not match the scan: replaced, and it serves until then', () => {
    const w = new World();
    const running = container('alpha', 'f1');
    w.engine = [running];
    w.files(app('alpha', 'f1'));
    const check = only(w.pass());
    assert.ok(check.type === 'check');
    const report = reportOf(check.snapshot);
    report.copied?.set('server.js', { size: 99, mtimeMs: 1_700_000_000_000 });
    const t = w.checked(check, report);
    assert.ok(t.notes.some((n) => n.level === 'warn'));
    w.advance(DEBOUNCE);
    const deploy = deployOf(w.pass());
    assert.match(
      deploy.why,
      /adopted container: the copy in the container does not match the scan \(server\.js: 100 bytes in the scan, 99 in the copy\)/,
    );
    assert.equal(deploy.previous?.id, running.id);
    // The replacement fails too: no check or deploy again before the backoff.
    w.finish(deploy, { kind: 'failed', why: 'exited', exitCode: 1, lastLogLines: [] });
    const waiting = w.pass();
    assert.deepEqual(waiting.actions, []);
    assert.equal(waiting.wakeAtMs, w.now + 2_000);
    w.advance(2_000);
    assert.equal(deployOf(w.pass()).why, deploy.why, 'still replacing it, for the same reason');
  });

  test('adopted but stale: it keeps serving while a replacement is deployed', () => {
    const w = new World();
    const stale = container('alpha', 'old');
    w.engine = [stale];
    w.files(app('alpha', 'f2'));
    assert.deepEqual(w.pass().actions, []);
    assert.equal(w.ws('alpha').serving?.id, stale.id);
    w.advance(DEBOUNCE);
    const deploy = deployOf(w.pass());
    assert.equal(deploy.why, 'files changed');
    assert.equal(deploy.previous?.id, stale.id);
  });

  test('duplicate: the container with the wanted version serves, the others are removed', () => {
    const w = new World();
    const wanted = container('alpha', 'f1');
    const newerButOld = container('alpha', 'f0');
    const exited = container('alpha', 'f1', { status: 'exited', ip: null });
    w.engine = [wanted, newerButOld, exited];
    w.files(app('alpha', 'f1'));
    const remove = only(w.pass());
    assert.equal(w.ws('alpha').serving?.id, wanted.id);
    assert.equal(remove.type, 'remove');
    if (remove.type === 'remove') {
      assert.equal(remove.why, 'not the serving container');
      assert.deepEqual(
        remove.containers.map((c) => c.id).sort(),
        [newerButOld.id, exited.id].sort(),
      );
    }
    w.removed(remove);
    const check = only(w.pass());
    assert.ok(check.type === 'check');
    w.checked(check, reportOf(check.snapshot));
    assert.deepEqual(w.pass().actions, []);
    assert.equal(viewOf(w.ws('alpha')).state, 'running');
  });

  test('duplicate: a replacement left half-started by a monitor crash is removed', () => {
    const w = new World();
    const serving = container('alpha', 'f1');
    const halfStarted = container('alpha', 'f2', { status: 'created', ip: null });
    w.engine = [serving, halfStarted];
    w.files(app('alpha', 'f1'));
    const remove = only(w.pass());
    assert.equal(remove.type, 'remove');
    if (remove.type === 'remove') {
      assert.deepEqual(
        remove.containers.map((c) => c.id),
        [halfStarted.id],
      );
    }
  });

  test('user-stopped: its containers go and it stays stopped; start brings it back', () => {
    const w = new World();
    w.serving('alpha', 'f1');
    w.stopped.add('alpha');
    const remove = only(w.pass());
    assert.equal(remove.type, 'remove');
    if (remove.type === 'remove') assert.equal(remove.why, 'stopped by user');
    w.removed(remove);
    assert.equal(viewOf(w.ws('alpha')).startedAt, null);
    w.advance(60_000);
    assert.deepEqual(w.pass().actions, []);
    assert.equal(viewOf(w.ws('alpha')).state, 'stopped');
    assert.deepEqual(w.pass().actions, [], 'still stopped');
    w.stopped.delete('alpha');
    assert.equal(deployOf(w.pass()).why, 'starting');
  });

  test('a restart request skips the debounce and the backoff', () => {
    const w = new World();
    const serving = w.serving('alpha', 'f1');
    w.set('alpha', (ws) => ({ ...ws, redeploy: { why: 'restart requested', skipWaits: true } }));
    const deploy = deployOf(w.pass());
    assert.equal(deploy.why, 'restart requested');
    assert.equal(deploy.previous?.id, serving.id);
    assert.equal(w.ws('alpha').redeploy, undefined, 'asked once, done once');
  });

  test('not runnable: the reason is shown and its containers are removed', () => {
    const w = new World();
    const serving = container('alpha', 'f1');
    w.engine = [serving];
    w.files(snapshot('alpha', 'f2', '{ not json'));
    const remove = only(w.pass());
    assert.equal(remove.type, 'remove');
    const view = viewOf(w.ws('alpha'));
    assert.equal(view.state, 'error');
    assert.match(view.reason, /package\.json/);
    assert.equal(view.type, null);
  });

  test('an incomplete scan, a busy workspace and a stale container list leave the workspace alone', () => {
    const w = new World();
    w.engine = [];
    w.files({ ...app('alpha', 'f1'), errors: ['sub: EIO'] }, app('beta', 'b1'), app('gamma', 'g1'));
    w.pass();
    w.advance(DEBOUNCE);
    w.set('beta', (ws) => ({ ...ws, busy: true }));
    w.stale.add('gamma');
    const decision = w.pass();
    assert.deepEqual(decision.actions, []);
    assert.ok(decision.notes.some((n) => n.msg === 'incomplete scan; leaving it as it is'));
    w.stale.clear();
    assert.deepEqual(
      w.pass().actions.map((a) => a.workspace),
      ['gamma'],
    );
  });

  test('a copy that does not match the scan is not served: the previous version keeps serving, the new container goes', () => {
    const w = new World();
    const serving = w.serving('alpha', 'f1');
    w.files(app('alpha', 'f2'));
    const deploy = w.deployWhenQuiet();
    const fresh = container('alpha', 'f2');
    const report = reportOf(deploy.snapshot);
    report.copied?.delete('package.json');
    report.copied?.set('server.js', { size: 100, mtimeMs: 1_600_000_000_000 });
    const t = deployFinished(
      w.ws('alpha'),
      deploy,
      { kind: 'ready', container: fresh, report },
      w.now,
      OUTCOME,
    );
    assert.equal(t.ws.serving?.id, serving.id, 'not declared served');
    assert.equal(t.ws.shown.state, 'crashing');
    assert.match(
      String(t.ws.shown.message),
      /the copy in the container does not match the scan \(package\.json: not in the copy; server\.js: modified 2023-11-14T22:13:20\.000Z in the scan, 2020-09-13T12:26:40\.000Z in the copy\); retrying in 2 s \(the previous version keeps serving\)/,
    );
    assert.equal(t.actions.length, 1);
    const remove = t.actions[0];
    assert.ok(remove?.type === 'remove');
    assert.deepEqual(
      remove.containers.map((c) => c.id),
      [fresh.id],
    );
    w.memory.set('alpha', { ...t.ws, busy: false });
    // The same files again: backed off. Changed files: deployed after the debounce.
    assert.equal(w.pass().wakeAtMs, w.now + 2_000);
    w.files(app('alpha', 'f3'));
    assert.equal(w.deployWhenQuiet().snapshot.fingerprint, 'f3');
  });

  test('a container whose image writes no report is served, as unverified', () => {
    const w = new World();
    w.files(app('alpha', 'f1'));
    const deploy = w.deployWhenQuiet();
    const after = w.finish(deploy, {
      kind: 'ready',
      container: container('alpha', 'f1'),
      report: undefined,
    });
    assert.equal(after.shown.state, 'running');
    assert.equal(viewOf(after).deploy?.copy, 'unverified');
  });

  test('the deploy carries the dependency plan: npm ci with a lockfile is cached, keyed on it', () => {
    const w = new World();
    const withLock = (fingerprint: string, lockHash: string): WorkspaceSnapshot => {
      const base = snapshot('shop', fingerprint, {
        scripts: { start: 'node server.js' },
        dependencies: { greeting: '^1.0.0' },
      });
      return {
        ...base,
        probe: { ...base.probe, files: new Set([...base.probe.files, 'package-lock.json']) },
        hashes: new Map([['package-lock.json', lockHash]]),
      };
    };
    w.files(withLock('f1', 'aaa'));
    const first = w.deployWhenQuiet();
    assert.equal(first.plan.install, 'npm ci');
    assert.ok(first.dependencies.kind === 'cached');
    assert.equal(first.dependencies.dir, '/app/node_modules');
    assert.deepEqual(first.dependencies.inputs, ['package.json dependencies', 'package-lock.json']);
    w.ready(first);
    w.memory.set('shop', { ...w.ws('shop'), busy: false });
    w.files(withLock('f2', 'aaa'));
    const codeEdit = w.deployWhenQuiet();
    assert.ok(codeEdit.dependencies.kind === 'cached');
    assert.equal(
      codeEdit.dependencies.digest,
      first.dependencies.digest,
      'a code edit keeps the key',
    );
    w.finish(codeEdit, { kind: 'aborted' });
    w.files(withLock('f3', 'bbb'));
    const lockEdit = w.deployWhenQuiet();
    assert.ok(lockEdit.dependencies.kind === 'cached');
    assert.notEqual(
      lockEdit.dependencies.digest,
      first.dependencies.digest,
      'a new lockfile, a new key',
    );
  });

  test('regression: a monitor started with no app running (stack-down, then up) kept no dependency cache for the first deploy', () => {
    const w = new World();
    w.volumes = [{ name: 'deps-alpha-k1', workspace: 'alpha', dependencyKey: 'k1' }];
    w.files(app('alpha', 'f1'));
    // While the first deploy waits for its quiet time, the cache stays.
    assert.deepEqual(w.pass().actions, []);
    w.advance(DEBOUNCE);
    assert.deepEqual(
      w.pass().actions.map((a) => a.type),
      ['deploy'],
    );
  });

  test('dependency caches: the ones no container uses go, except the last one started; all go with the workspace', () => {
    const w = new World();
    const volume = (workspace: string, key: string): ManagedVolume => ({
      name: `deps-${workspace}-${key}`,
      workspace,
      dependencyKey: key,
    });
    const serving = container('alpha', 'f1', { dependencyKey: 'k1' });
    w.engine = [serving];
    w.volumes = [volume('alpha', 'k1'), volume('alpha', 'k0'), volume('gone', 'k9')];
    w.files(app('alpha', 'f1'));
    const first = w.pass();
    assert.deepEqual(
      first.actions.map((a) => [a.type, a.workspace]),
      [
        ['check', 'alpha'],
        ['remove', 'gone'],
      ],
    );
    const orphan = first.actions[1];
    assert.ok(orphan?.type === 'remove');
    assert.deepEqual(orphan.volumes, ['deps-gone-k9']);
    assert.equal(orphan.forget, true);
    const check = first.actions[0];
    assert.ok(check?.type === 'check');
    w.checked(check, reportOf(check.snapshot));
    w.memory.delete('gone');
    w.volumes = [volume('alpha', 'k1'), volume('alpha', 'k0')];
    const prune = only(w.pass());
    assert.ok(prune.type === 'remove');
    assert.deepEqual(prune.volumes, ['deps-alpha-k0']);
    assert.deepEqual(prune.containers, []);
    assert.equal(prune.forget, false);
    w.removed(prune);
    w.volumes = [volume('alpha', 'k1')];
    // Stopped: the container goes, its cache stays for the next start.
    w.set('alpha', (ws) => ({ ...ws, dependencyKey: 'k1' }));
    w.stopped.add('alpha');
    w.removed(only(w.pass()));
    assert.deepEqual(w.pass().actions, []);
    // The mount looks broken: nothing is removed.
    w.scan = { mount: 'unavailable', reason: 'EIO' };
    w.volumes = [volume('alpha', 'k1'), volume('alpha', 'k2')];
    assert.deepEqual(w.pass().actions, []);
    // Removed: every cache goes with it.
    w.files(app('other', 'o1'));
    const gone = w.pass().actions.find((a) => a.workspace === 'alpha');
    assert.ok(gone?.type === 'remove');
    assert.deepEqual(gone.volumes, ['deps-alpha-k1', 'deps-alpha-k2']);
    assert.equal(gone.forget, true);
  });
});
