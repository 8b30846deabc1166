import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  groupRemoteByWorkspace,
  remoteWorkspaces,
  splitKey,
  unsafeKeyProblem,
  unsafePathProblem,
} from './object-keys.ts';

test('keys a pull may write: plain paths, odd but harmless names', () => {
  for (const key of [
    'app/a.txt',
    'app/src/deep/x.js',
    'app/.gitignore',
    'app/...three-dots',
    'app/..hidden-ish',
    'app/a\\b.txt',
    'app/with space/ünï #?%+.txt',
  ])
    assert.equal(unsafeKeyProblem(key), undefined, key);
});

test('keys a pull never writes: dot segments, empty segments, NUL, backslash tricks, bad workspaces', () => {
  const cases: [string, RegExp][] = [
    ['ws/sub/../../../x', /"\.\." path segment/],
    ['ws/../../x', /"\.\." path segment/],
    ['ws/./x', /"\." path segment/],
    ['ws//etc/passwd', /empty path segment/],
    ['ws/a//b', /empty path segment/],
    ['ws/n\0ul', /NUL/],
    ['ws/a\\..\\..\\x', /"\.\." path segment \(split on "\\"\)/],
    ['ws/\\x', /empty path segment \(split on "\\"\)/],
    ['../x', /workspace .*hidden/],
    ['./x', /workspace .*hidden/],
    ['.bucketspace-backup/x', /workspace .*hidden/],
    ['a\\b/x', /workspace .*a path/],
  ];
  for (const [key, why] of cases) assert.match(unsafeKeyProblem(key) ?? '', why, key);
  assert.equal(unsafePathProblem('ok/path.txt'), undefined);
  // Paths, not keys: the ends of the path are segment ends too.
  const paths: [string, RegExp][] = [
    ['', /empty path segment/],
    ['/a', /empty path segment/],
    ['a/', /empty path segment/],
    ['.', /"\." path segment/],
    ['a/..', /"\.\." path segment/],
    ['../a', /"\.\." path segment/],
    ['a\\.', /"\." path segment \(split on "\\"\)/],
    ['a\0', /NUL/],
  ];
  for (const [path, why] of paths) assert.match(unsafePathProblem(path) ?? '', why, path);
  for (const path of ['a', '...', 'a/...b', '..a/b.', 'a./.b', 'a\\b'])
    assert.equal(unsafePathProblem(path), undefined, path);
});

test('splitKey: the workspace is the first segment', () => {
  assert.deepEqual(splitKey('ws/a/b.txt'), { workspace: 'ws', relPath: 'a/b.txt' });
});

test('a streamed listing comes out one workspace at a time, in listing order, without markers, root keys or the trash', async () => {
  const info = (key: string) => ({ key, size: 1, etag: 'e', lastModified: new Date(0) });
  async function* pages() {
    await Promise.resolve();
    yield [info('.trash/a/t/1'), info('a/1'), info('a/2'), info('a-b/x')];
    yield [info('a-b/y/'), info('a-b/z'), info('root-key')];
    yield [];
    yield [info('b/1'), info('c/')];
  }
  const seen: [string, string[]][] = [];
  for await (const ws of remoteWorkspaces(pages()))
    seen.push([ws.workspace, ws.objects.map((o) => o.relPath)]);
  assert.deepEqual(seen, [
    ['a', ['1', '2']],
    ['a-b', ['x', 'z']],
    ['b', ['1']],
  ]);
  assert.deepEqual(
    [...groupRemoteByWorkspace([info('a/1'), info('b/'), info('x')]).entries()].map(
      ([ws, objects]) => [ws, objects.map((o) => o.relPath)],
    ),
    [['a', ['1']]],
  );
});

test('the trash is never a workspace: its keys are left out of the grouping', () => {
  const info = (key: string) => ({ key, size: 1, etag: 'e', lastModified: new Date(0) });
  const grouped = groupRemoteByWorkspace(
    ['shop/index.js', '.trash/shop/2026-11-30T12-00-00.000Z/index.js', '.trash/x', 'dir/'].map(
      info,
    ),
  );
  assert.deepEqual([...grouped.keys()], ['shop']);
});
