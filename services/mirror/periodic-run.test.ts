import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../test/support/manual-clock.ts';
import { PeriodicRun } from './periodic-run.ts';

/** Lets promise callbacks run (a run starts after the one before it has settled). */
const settle = () => new Promise((r) => setImmediate(r));

/** A run the test finishes by hand, recording when each started and ended. */
function controlledRuns(clock: ManualClock) {
  const log: { start: number; end?: number }[] = [];
  const open: (() => void)[] = [];
  return {
    log,
    run: () =>
      new Promise<void>((resolve) => {
        const entry: { start: number; end?: number } = { start: clock.now() };
        log.push(entry);
        open.push(() => {
          entry.end = clock.now();
          resolve();
        });
      }),
    /** Ends the run in flight and lets its promise callbacks run. */
    async finish() {
      open.shift()?.();
      await settle();
    },
    get inFlight() {
      return open.length;
    },
  };
}

test('a slow run delays the next: never two at once, the next due an interval after the last ended', async () => {
  const clock = new ManualClock(0);
  const runs = controlledRuns(clock);
  const periodic = new PeriodicRun({ clock, intervalMs: 1000, run: runs.run });
  periodic.start();
  clock.advance(999);
  assert.equal(runs.log.length, 0);
  clock.advance(1);
  await settle();
  assert.equal(runs.log.length, 1, 'first run after one interval');
  clock.advance(10_000); // the run is slow: ten intervals pass
  await settle();
  assert.equal(runs.log.length, 1, 'no second run while the first is in flight');
  assert.deepEqual(clock.pending(), [], 'nothing even scheduled meanwhile');
  await runs.finish();
  assert.deepEqual(clock.pending(), [1000], 'the next run is due one interval after the end');
  clock.advance(1000);
  await settle();
  assert.equal(runs.log.length, 2);
  await runs.finish();
  assert.deepEqual(
    runs.log.map((r) => [r.start, r.end]),
    [
      [1000, 11_000],
      [12_000, 12_000],
    ],
  );
});

test('runOnce waits for the run in flight; stop waits for it and cancels the next', async () => {
  const clock = new ManualClock(0);
  const runs = controlledRuns(clock);
  const periodic = new PeriodicRun({ clock, intervalMs: 100, run: runs.run });
  periodic.start();
  clock.advance(100);
  await settle();
  assert.equal(runs.inFlight, 1);
  let stopped = false;
  const stopping = periodic.stop().then(() => (stopped = true));
  const last = periodic.runOnce();
  await settle();
  assert.equal(stopped, false, 'stop waits for the run in flight');
  assert.equal(runs.log.length, 1, 'the last run waits too');
  await runs.finish();
  await stopping;
  await settle();
  assert.equal(runs.log.length, 2, 'then the last run starts');
  await runs.finish();
  await last;
  clock.advance(10_000);
  await settle();
  assert.equal(runs.log.length, 2, 'nothing runs on its own after stop');
  assert.deepEqual(clock.pending(), []);
});

test('without an interval it runs only when asked; a failed run does not stop the next', async () => {
  const clock = new ManualClock(0);
  let calls = 0;
  const periodic = new PeriodicRun({
    clock,
    intervalMs: undefined,
    run: () => {
      calls += 1;
      return calls === 1 ? Promise.reject(new Error('first fails')) : Promise.resolve();
    },
  });
  periodic.start();
  assert.deepEqual(clock.pending(), []);
  await assert.rejects(periodic.runOnce(), /first fails/);
  await periodic.runOnce();
  assert.equal(calls, 2);
  await periodic.stop();
});
