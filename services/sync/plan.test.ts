import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WalkedFile } from '../common/walk.ts';
import { groupRemoteByWorkspace } from './object-keys.ts';
import { planPull, planPush, PullPlanner } from './plan.ts';
import type { RemoteFile, StateEntry } from './types.ts';

const file = (relPath: string, size: number, mtimeMs = 1000): WalkedFile => ({
  relPath,
  absPath: `/w/app/${relPath}`,
  size,
  mtimeMs,
  ctimeMs: mtimeMs,
  ino: 1,
});
const remote = (relPath: string, size: number, etag = 'e'): RemoteFile => ({
  key: `app/${relPath}`,
  relPath,
  size,
  etag,
  lastModified: new Date(0),
});

test('plan: new, size-changed, unchanged (stat+etag remembered), verify, delete, protected', () => {
  const state = new Map<string, StateEntry>([
    ['same.txt', { size: 3, mtimeMs: 1000, ctimeMs: 1000, ino: 1, etag: 'e' }],
    ['touched.txt', { size: 3, mtimeMs: 1000, ctimeMs: 1000, ino: 1, etag: 'e' }],
    ['foreign.txt', { size: 3, mtimeMs: 1000, ctimeMs: 1000, ino: 1, etag: 'old' }],
  ]);
  const plan = planPush({
    workspace: 'app',
    local: [
      file('new.txt', 1),
      file('grown.txt', 9),
      file('same.txt', 3),
      file('touched.txt', 3, 2000),
      file('foreign.txt', 3),
      file('unknown.txt', 3),
    ],
    remote: [
      remote('grown.txt', 3),
      remote('same.txt', 3),
      remote('touched.txt', 3),
      remote('foreign.txt', 3, 'someone-else'),
      remote('unknown.txt', 3),
      remote('gone.txt', 5),
      remote('unreadable.txt', 5),
    ],
    state,
    protectedPaths: new Set(['unreadable.txt']),
    deleteReason: (p) => `why ${p}`,
  });
  assert.deepEqual(
    plan.uploads.map((u) => [u.file.relPath, u.reason]),
    [
      ['grown.txt', 'size changed'],
      ['new.txt', 'new'],
    ],
  );
  assert.equal(plan.unchanged, 1);
  assert.deepEqual(plan.verify.map((v) => v.file.relPath).sort(), [
    'foreign.txt',
    'touched.txt',
    'unknown.txt',
  ]);
  assert.deepEqual(plan.deletes, [
    { relPath: 'gone.txt', key: 'app/gone.txt', size: 5, reason: 'why gone.txt' },
  ]);
  assert.deepEqual(plan.protectedRemote, ['unreadable.txt']);
  assert.equal(plan.remoteCount, 7);
});

test('listing grouped by workspace; directory markers and root keys ignored', () => {
  const groups = groupRemoteByWorkspace([
    { key: 'a/x.txt', size: 1, etag: '1', lastModified: new Date(0) },
    { key: 'a/dir/', size: 0, etag: '2', lastModified: new Date(0) },
    { key: 'b/y/z.txt', size: 1, etag: '3', lastModified: new Date(0) },
    { key: 'rootfile', size: 1, etag: '4', lastModified: new Date(0) },
  ]);
  assert.deepEqual([...groups.keys()], ['a', 'b']);
  assert.deepEqual(
    groups.get('b')?.map((r) => r.relPath),
    ['y/z.txt'],
  );
  assert.equal(groups.get('a')?.length, 1);
});

test('pull plan: missing or different locally is downloaded, excluded never, local-only deleted', () => {
  const state = new Map<string, StateEntry>([
    ['same.txt', { size: 3, mtimeMs: 1000, ctimeMs: 1000, ino: 1, etag: 'e' }],
  ]);
  const plan = planPull({
    local: [
      file('same.txt', 3),
      file('edited.txt', 3),
      file('grown.txt', 9),
      file('local-only.txt', 1),
    ],
    remote: [
      remote('same.txt', 3),
      remote('edited.txt', 3),
      remote('grown.txt', 3),
      remote('new.txt', 2),
      remote('.env', 4),
    ],
    state,
    excluded: (p) => (p === '.env' ? '<defaults>:4:.env*' : undefined),
  });
  assert.deepEqual(
    plan.downloads.map((d) => [d.remote.relPath, d.reason]),
    [
      ['grown.txt', 'size differs'],
      ['new.txt', 'not present locally'],
    ],
  );
  assert.equal(plan.unchanged, 1);
  assert.deepEqual(
    plan.verify.map((v) => v.file.relPath),
    ['edited.txt'],
  );
  assert.deepEqual(
    plan.excluded.map((e) => [e.remote.relPath, e.rule]),
    [['.env', '<defaults>:4:.env*']],
  );
  assert.deepEqual(
    plan.deletes.map((f) => f.relPath),
    ['local-only.txt'],
  );
  assert.equal(plan.included, 4);
});

test('pull planner: objects added page by page plan what planPull plans of them at once', () => {
  const state = new Map<string, StateEntry>([
    ['a/same.txt', { size: 3, mtimeMs: 1000, ctimeMs: 1000, ino: 1, etag: 'e' }],
  ]);
  const local = [file('a/same.txt', 3), file('a/edited.txt', 3), file('b/only-here.txt', 1)];
  const objects = [
    remote('a/edited.txt', 3),
    remote('a/same.txt', 3),
    remote('b/.env', 4),
    remote('b/new.txt', 2),
    remote('c/new.txt', 5),
  ];
  const excluded = (p: string) => (p.endsWith('.env') ? '<defaults>:4:.env*' : undefined);
  const planner = new PullPlanner({ local, state, excluded });
  for (const page of [objects.slice(0, 2), [], objects.slice(2, 4), objects.slice(4)])
    for (const r of page) planner.add(r);
  const paged = planner.finish();
  assert.deepEqual(paged, planPull({ local, remote: objects, state, excluded }));
  assert.deepEqual(
    paged.deletes.map((f) => f.relPath),
    ['b/only-here.txt'],
  );
  assert.deepEqual(
    paged.downloads.map((d) => [d.remote.relPath, d.reason]),
    [
      ['b/new.txt', 'not present locally'],
      ['c/new.txt', 'not present locally'],
    ],
  );
  assert.deepEqual(
    paged.verify.map((v) => v.file.relPath),
    ['a/edited.txt'],
  );
  assert.deepEqual(
    paged.excluded.map((e) => e.remote.relPath),
    ['b/.env'],
  );
  assert.equal(paged.unchanged, 1);
  assert.equal(paged.included, 4);
});
