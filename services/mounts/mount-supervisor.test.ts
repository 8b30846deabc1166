// The supervisor's decisions (what to check, when to retry, what to report), with a fake clock
// and a fake manager; the real daemon runs against rclone in test/mount-daemon.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '../common/clock.ts';
import { silentLogger } from '../common/logger.ts';
import type { MountManager } from './mount-manager.ts';
import { MountSupervisor } from './mount-supervisor.ts';
import type { MountRecord, MountState } from './types.ts';

type HealResult = Awaited<ReturnType<MountManager['heal']>>;

function fakeClock(): Clock & { t: number } {
  return {
    t: 0,
    now() {
      return this.t;
    },
    setTimeout: () => 'timer',
    clearTimeout: () => undefined,
  };
}

function fakeManager(mounts: { bucket: string; state: MountState; auto?: boolean }[]) {
  const calls: string[] = [];
  const recorded: string[] = [];
  let heal: (bucket: string) => HealResult = () => ({ action: 'healthy', problems: [] });
  let start: (bucket: string) => void = () => undefined;
  const manager = {
    list: () => mounts.map((m) => ({ ...m, auto: m.auto ?? false }) as unknown as MountRecord),
    heal: (bucket: string) => {
      calls.push(`heal ${bucket}`);
      return Promise.resolve(heal(bucket));
    },
    start: (bucket: string) => {
      calls.push(`start ${bucket}`);
      start(bucket);
      return Promise.resolve({ problems: [] });
    },
    stopAll: () => {
      calls.push('stopAll');
      return Promise.resolve([]);
    },
    recordLinkProblem: (_bucket: string, message: string) => recorded.push(message),
  };
  return {
    manager: manager as unknown as MountManager,
    calls,
    recorded,
    setHeal: (fn: typeof heal) => (heal = fn),
    setStart: (fn: typeof start) => (start = fn),
  };
}

const backoff = { baseMs: 1000, maxMs: 8000 };

test('start mounts the auto mounts only; every wanted mount is checked, stopped ones never', async () => {
  const fake = fakeManager([
    { bucket: 'auto-one', state: 'stopped', auto: true },
    { bucket: 'manual', state: 'stopped' },
    { bucket: 'running', state: 'running' },
    { bucket: 'broken', state: 'error' },
  ]);
  const sup = new MountSupervisor({
    manager: fake.manager,
    intervalMs: 100,
    logger: silentLogger(),
    clock: fakeClock(),
    backoff,
  });
  await sup.start();
  assert.deepEqual(fake.calls, ['start auto-one']);
  fake.calls.length = 0;
  await sup.tick();
  assert.deepEqual(fake.calls, ['heal running', 'heal broken']);
  await sup.stop();
  assert.equal(fake.calls.at(-1), 'stopAll');
});

test('a failed remount waits out its backoff; success resets it', async () => {
  const clock = fakeClock();
  const fake = fakeManager([{ bucket: 'b', state: 'error' }]);
  const sup = new MountSupervisor({
    manager: fake.manager,
    intervalMs: 100,
    logger: silentLogger(),
    clock,
    backoff,
  });
  fake.setHeal(() => ({ action: 'failed', problems: [], error: 'rclone is not installed' }));
  await sup.tick();
  await sup.tick(); // same instant: inside the backoff
  assert.deepEqual(fake.calls, ['heal b']);
  clock.t += backoff.baseMs; // the first wait is at most baseMs
  await sup.tick();
  assert.equal(fake.calls.length, 2);
  clock.t += 2 * backoff.baseMs; // the second wait is at most 2 x baseMs
  fake.setHeal(() => ({ action: 'remounted', problems: [] }));
  await sup.tick();
  assert.equal(fake.calls.length, 3);
  await sup.tick(); // healthy again: checked every interval, no backoff
  await sup.tick();
  assert.equal(fake.calls.length, 5);
});

test('the wait doubles with each failure, up to the maximum', async () => {
  const clock = fakeClock();
  const fake = fakeManager([{ bucket: 'b', state: 'error' }]);
  const sup = new MountSupervisor({
    manager: fake.manager,
    intervalMs: 100,
    logger: silentLogger(),
    clock,
    backoff,
  });
  fake.setHeal(() => ({ action: 'failed', problems: [] }));
  const waits: number[] = [];
  for (let attempt = 0; attempt < 6; attempt += 1) {
    const before = fake.calls.length;
    const start = clock.t;
    while (fake.calls.length === before) {
      await sup.tick();
      clock.t += 50;
    }
    waits.push(clock.t - 50 - start);
  }
  // Attempt n waits between half and all of min(max, base * 2^n).
  for (const [n, wait] of waits.slice(1).entries()) {
    const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** n);
    assert.ok(
      wait >= ceiling / 2 - 50 && wait <= ceiling + 50,
      `attempt ${n + 1}: ${wait}ms vs ${ceiling}`,
    );
  }
});

test('a failed auto-mount at start is retried by the checks', async () => {
  const clock = fakeClock();
  const fake = fakeManager([{ bucket: 'b', state: 'error', auto: true }]);
  fake.setStart(() => {
    throw new Error('no /dev/fuse');
  });
  const sup = new MountSupervisor({
    manager: fake.manager,
    intervalMs: 100,
    logger: silentLogger(),
    clock,
    backoff,
  });
  await sup.start();
  await sup.tick();
  assert.deepEqual(fake.calls, ['start b'], 'backing off after the failed start');
  clock.t += backoff.baseMs;
  await sup.tick();
  assert.deepEqual(fake.calls, ['start b', 'heal b']);
});

test('a link that cannot be recreated is recorded once, again only when the problem changes', async () => {
  const fake = fakeManager([{ bucket: 'b', state: 'running' }]);
  const sup = new MountSupervisor({
    manager: fake.manager,
    intervalMs: 100,
    logger: silentLogger(),
    clock: fakeClock(),
    backoff,
  });
  let problems = ['/r/b is already a directory'];
  fake.setHeal(() => ({ action: 'healthy', problems }));
  await sup.tick();
  await sup.tick();
  assert.deepEqual(fake.recorded, ['/r/b is already a directory']);
  problems = ['/r/b is already a file'];
  await sup.tick();
  assert.deepEqual(fake.recorded, ['/r/b is already a directory', '/r/b is already a file']);
});
