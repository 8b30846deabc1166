import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BucketspaceError } from '../common/errors.ts';
import { runTransfers, TransferQueue } from './transfer-queue.ts';

/** A transfer the test finishes by hand, to control the order things happen in. */
function gate() {
  let open = () => undefined as void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

test('at most `concurrency` at once, in the order added, also for items added while others run', async () => {
  const started: string[] = [];
  const gates = new Map<string, ReturnType<typeof gate>>();
  let running = 0;
  let most = 0;
  const queue = new TransferQueue<string>({
    concurrency: 2,
    run: async (name) => {
      started.push(name);
      running += 1;
      most = Math.max(most, running);
      const g = gate();
      gates.set(name, g);
      await g.opened;
      running -= 1;
    },
  });
  const first = queue.add(['a', 'b', 'c']);
  await tick();
  assert.deepEqual(started, ['a', 'b']);
  const second = queue.add(['d', 'e']); // a later workspace, planned while the first one uploads
  gates.get('b')?.open();
  await tick();
  assert.deepEqual(started, ['a', 'b', 'c']);
  const done = queue.finish();
  for (const name of ['a', 'c', 'd', 'e']) {
    gates.get(name)?.open();
    await tick();
  }
  await done;
  assert.deepEqual(started, ['a', 'b', 'c', 'd', 'e']);
  assert.equal(most, 2);
  assert.deepEqual(
    (await first).ok.sort(),
    ['a', 'b', 'c'],
    'each add resolves with its own items',
  );
  assert.deepEqual((await second).ok.sort(), ['d', 'e']);
  assert.deepEqual([(await first).failed, (await second).failed], [[], []]);
});

test('finish waits for transfers added before it; nothing may be added after', async () => {
  const queue = new TransferQueue<number>({ concurrency: 4, run: () => tick() });
  const batch = queue.add([1, 2, 3]);
  let finished = false;
  await queue.finish().then(() => (finished = true));
  assert.ok(finished);
  assert.deepEqual((await batch).ok.sort(), [1, 2, 3]);
  assert.throws(() => queue.add([4]));
  const idle = new TransferQueue<number>({ concurrency: 1, run: tick });
  assert.deepEqual(await idle.add([]), { ok: [], failed: [] });
  await idle.finish();
});

test('one failure never stops the others; an unreachable server fails the rest at once; an abort fails what has not started', async () => {
  let attempts = 0;
  const outcome = await runTransfers({
    items: [1, 2, 3, 4],
    concurrency: 1,
    run: (n) => {
      attempts += 1;
      if (n === 1) return Promise.reject(new Error('disk hiccup'));
      if (n === 2)
        return Promise.reject(new BucketspaceError('S3_UNREACHABLE', 'connect ECONNREFUSED'));
      return Promise.resolve();
    },
  });
  assert.equal(attempts, 2, 'after the server was unreachable, 3 and 4 were not attempted');
  assert.deepEqual(
    outcome.failed.map((f) => [f.item, f.error.code]),
    [
      [1, 'INTERNAL'],
      [2, 'S3_UNREACHABLE'],
      [3, 'S3_UNREACHABLE'],
      [4, 'S3_UNREACHABLE'],
    ],
  );
  assert.match(outcome.failed[2]?.error.message ?? '', /^not attempted: /);

  const controller = new AbortController();
  const aborted = await runTransfers({
    items: ['x', 'y'],
    concurrency: 1,
    signal: controller.signal,
    run: () => {
      controller.abort();
      return Promise.resolve();
    },
  });
  assert.deepEqual(aborted.ok, ['x']);
  assert.deepEqual(
    aborted.failed.map((f) => f.error.code),
    ['ABORTED'],
  );
});

test('a long run lets go of finished items: only waiting and running ones are held', async () => {
  const queue = new TransferQueue<{ n: number }>({ concurrency: 8, run: () => tick() });
  const batches: Promise<unknown>[] = [];
  for (let b = 0; b < 10; b++) {
    const items = Array.from({ length: 500 }, (_, n) => ({ n }));
    batches.push(queue.add(items).then(() => undefined));
  }
  await Promise.all(batches);
  await queue.finish();
  assert.equal(
    (queue as unknown as { waiting: unknown[] }).waiting.length <= 1024,
    true,
    'the queue does not keep 5,000 finished items',
  );
});
