import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../test/support/manual-clock.ts';
import { ChangeBatcher } from './change-batcher.ts';
import { DeleteWindow } from './delete-window.ts';

function setUp(options: { debounceMs?: number; maxWaitMs?: number; targetedLimit?: number } = {}) {
  const clock = new ManualClock();
  let ready = 0;
  const batcher = new ChangeBatcher({
    clock,
    debounceMs: options.debounceMs ?? 100,
    maxWaitMs: options.maxWaitMs ?? 1000,
    targetedLimit: options.targetedLimit ?? 500,
    onReady: () => (ready += 1),
  });
  return { clock, batcher, ready: () => ready };
}

describe('ChangeBatcher', () => {
  test('a burst is one batch, ready after the debounce of quiet', () => {
    const { clock, batcher, ready } = setUp();
    batcher.addPath('app', 'a.js');
    clock.advance(60);
    batcher.addPath('app', 'b.js');
    clock.advance(60);
    batcher.addPath('site', 'index.html');
    clock.advance(99);
    assert.equal(ready(), 0, 'each change restarts the quiet time');
    clock.advance(1);
    assert.equal(ready(), 1);
    const batch = batcher.take();
    assert.deepEqual(batch?.full, false);
    assert.deepEqual([...(batch?.paths.get('app') ?? [])], ['a.js', 'b.js']);
    assert.deepEqual([...(batch?.paths.get('site') ?? [])], ['index.html']);
    assert.equal(batcher.pending, false);
    assert.equal(batcher.take(), undefined, 'nothing left');
  });

  test('a tree that never goes quiet still gets a batch every maxWait', () => {
    const { clock, batcher, ready } = setUp({ debounceMs: 100, maxWaitMs: 1000 });
    for (let t = 0; t < 1000; t += 50) {
      batcher.addPath('app', `f${t}.js`);
      clock.advance(50);
    }
    assert.equal(ready(), 1, 'ready at 1000 ms although a change came every 50 ms');
    assert.equal(batcher.take()?.paths.get('app')?.size, 20);
    batcher.addPath('app', 'late.js');
    clock.advance(100);
    assert.equal(ready(), 2, 'the wait starts again from the next first change');
  });

  test('a reconcile covers its workspace’s paths; too many paths become a reconcile', () => {
    const { batcher } = setUp({ targetedLimit: 3 });
    batcher.addPath('app', 'a.js');
    batcher.addReconcile('app');
    for (const f of ['1', '2', '3', '4']) batcher.addPath('api', f);
    batcher.addPath('site', 'x');
    const batch = batcher.take();
    assert.deepEqual([...(batch?.reconcile ?? [])].sort(), ['api', 'app']);
    assert.deepEqual([...(batch?.paths.keys() ?? [])], ['site']);
  });

  test('a full sync covers everything else', () => {
    const { batcher } = setUp();
    batcher.addPath('app', 'a.js');
    batcher.addReconcile('api');
    batcher.addFull();
    const batch = batcher.take();
    assert.equal(batch?.full, true);
    assert.equal(batch?.reconcile.size, 0);
    assert.equal(batch?.paths.size, 0);
  });

  test('work put back (a failed batch) merges with what came meanwhile and is not scheduled', () => {
    const { clock, batcher, ready } = setUp();
    batcher.addPath('app', 'a.js');
    clock.advance(100);
    const failed = batcher.take();
    assert.ok(failed);
    batcher.addPath('app', 'b.js');
    batcher.putBack(failed);
    batcher.putBack({ reconcile: new Set(['site']) });
    const before = ready();
    clock.advance(50);
    assert.equal(ready(), before, 'putBack does not make a batch ready');
    clock.advance(50);
    const again = batcher.take();
    assert.deepEqual([...(again?.paths.get('app') ?? [])].sort(), ['a.js', 'b.js']);
    assert.deepEqual([...(again?.reconcile ?? [])], ['site']);
  });

  test('stopped: no more batches are announced', () => {
    const { clock, batcher, ready } = setUp();
    batcher.addPath('app', 'a.js');
    batcher.stop();
    batcher.addPath('app', 'b.js');
    clock.advance(10_000);
    assert.equal(ready(), 0);
    assert.deepEqual(clock.pending(), []);
  });
});

describe('DeleteWindow', () => {
  test('counts the deletions of the last window only', () => {
    const window = new DeleteWindow(60_000);
    window.record(0, 3);
    window.record(30_000, 2);
    window.record(31_000, 0);
    assert.equal(window.recent(59_000), 5);
    assert.equal(window.recent(60_000), 5, 'the first is exactly at the edge');
    assert.equal(window.recent(60_001), 2);
    assert.equal(window.recent(90_001), 0);
  });
});
