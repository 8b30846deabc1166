import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '../../common/clock.ts';
import { WakeTimer } from './wake-timer.ts';

/** A clock whose timers run only when `advance` passes their time. */
function manualClock() {
  let now = 0;
  let next = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const clock: Clock = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = next++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout: (id) => void timers.delete(id as number),
  };
  const advance = (ms: number) => {
    now += ms;
    for (const [id, t] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
      if (t.at <= now) {
        timers.delete(id);
        t.fn();
      }
    }
  };
  return { clock, advance, pending: () => timers.size };
}

test('a later request never pushes back an earlier one (regression: a debounced deploy waited a whole poll)', () => {
  const { clock, advance, pending } = manualClock();
  const fired: number[] = [];
  const timer = new WakeTimer(clock, () => fired.push(clock.now()));
  timer.at(1_000); // a debounce ends in 1 s
  timer.at(30_000); // then the pass ends and asks for the next poll
  assert.equal(timer.dueAt, 1_000);
  assert.equal(pending(), 1);
  advance(1_000);
  assert.deepEqual(fired, [1_000]);
});

test('an earlier request replaces a later one; after firing, the next request stands alone', () => {
  const { clock, advance } = manualClock();
  const fired: number[] = [];
  const timer = new WakeTimer(clock, () => fired.push(clock.now()));
  timer.at(30_000);
  timer.at(0);
  advance(0);
  assert.deepEqual(fired, [0]);
  assert.equal(timer.dueAt, undefined);
  timer.at(30_000);
  advance(29_999);
  assert.deepEqual(fired, [0]);
  advance(1);
  assert.deepEqual(fired, [0, 30_000]);
});

test('cancel stops it', () => {
  const { clock, advance } = manualClock();
  let fired = 0;
  const timer = new WakeTimer(clock, () => fired++);
  timer.at(10);
  timer.cancel();
  advance(100);
  assert.equal(fired, 0);
});
