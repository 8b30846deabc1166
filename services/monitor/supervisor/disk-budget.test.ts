import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judgeDiskUsage } from './disk-budget.ts';

const MiB = 1024 ** 2;

/** Two running apps: shop writes 10 MiB; blog writes 40 MiB and has `blogCache` MiB of dependencies. */
const twoApps = (blogCache: number) => [
  { id: 'a', workspace: 'shop', writableBytes: 10 * MiB, volumes: [] },
  {
    id: 'b',
    workspace: 'blog',
    writableBytes: 40 * MiB,
    volumes: [{ name: 'deps-blog', bytes: blogCache * MiB }],
  },
];

test('within the budget (exactly at it too): nothing to do', () => {
  assert.deepEqual(judgeDiskUsage(twoApps(24), 64 * MiB), []);
});

test('over it: the writable layer and the dependency cache add up, and the reason says which is which', () => {
  const [eviction, ...rest] = judgeDiskUsage(twoApps(30), 64 * MiB);
  assert.deepEqual(rest, []);
  assert.deepEqual(eviction, {
    workspace: 'blog',
    containerId: 'b',
    reason:
      'stopped: it used 70.0 MiB of its 64.0 MiB disk budget (RUNTIME_DISK): 40.0 MiB written in its container, 30.0 MiB in its dependency cache',
    volumes: ['deps-blog'],
  });
});

test('sizes the engine did not report count as nothing', () => {
  assert.deepEqual(
    judgeDiskUsage(
      [{ id: 'a', workspace: 'shop', writableBytes: null, volumes: [{ name: 'v', bytes: null }] }],
      16 * MiB,
    ),
    [],
  );
  const [only] = judgeDiskUsage(
    [
      {
        id: 'a',
        workspace: 'shop',
        writableBytes: 20 * MiB,
        volumes: [{ name: 'v', bytes: null }],
      },
    ],
    16 * MiB,
  );
  assert.equal(
    only?.reason,
    'stopped: it used 20.0 MiB of its 16.0 MiB disk budget (RUNTIME_DISK): 20.0 MiB written in its container',
  );
});
