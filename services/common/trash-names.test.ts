import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  entryNamePrefix,
  isTrashKey,
  parseTrashKey,
  restoreCommand,
  trashEntryName,
  trashEntryTime,
  trashKey,
} from './trash-names.ts';
import { isWorkspaceEntryName } from './workspace-name.ts';

test('an entry is named after its UTC time, with "-" for ":", and read back', () => {
  const at = new Date('2026-11-30T12:34:56.789Z');
  assert.equal(trashEntryName(at), '2026-11-30T12-34-56.789Z');
  assert.equal(trashEntryTime('2026-11-30T12-34-56.789Z')?.toISOString(), at.toISOString());
  assert.equal(trashEntryTime('2026-11-30T12-34-56Z')?.toISOString(), '2026-11-30T12:34:56.000Z');
  for (const bad of ['2026-11-30', 'latest', '2026-13-45T99-99-99Z', '2026-11-30T12:34:56Z'])
    assert.equal(trashEntryTime(bad), undefined, bad);
});

test('trash keys: built, recognised and split; never a workspace', () => {
  const key = trashKey('shop', '2026-11-30T12-34-56.789Z', 'src/a b.js');
  assert.equal(key, '.trash/shop/2026-11-30T12-34-56.789Z/src/a b.js');
  assert.ok(isTrashKey(key));
  assert.deepEqual(parseTrashKey(key), {
    workspace: 'shop',
    entry: '2026-11-30T12-34-56.789Z',
    relPath: 'src/a b.js',
  });
  for (const stray of [
    '.trash/readme',
    '.trash/shop/not-a-time/a',
    '.trash/shop/2026-11-30T12-34-56.789Z/',
  ])
    assert.equal(parseTrashKey(stray), undefined, stray);
  assert.equal(isTrashKey('shop/.trash/x'), false, 'a .trash inside a workspace is a file of it');
  assert.equal(isWorkspaceEntryName('.trash'), false);
});

test('--at: an entry name, its leading part, or the ISO time with colons', () => {
  assert.equal(entryNamePrefix('2026-11-30T12:34:56.789Z'), '2026-11-30T12-34-56.789Z');
  assert.equal(entryNamePrefix('2026-11-30T12:34:56Z'), '2026-11-30T12-34-56', 'any millisecond');
  assert.equal(entryNamePrefix(' 2026-11-30T12:34 '), '2026-11-30T12-34');
});

test('the restore command, quoted for a shell when needed', () => {
  assert.equal(restoreCommand('shop'), 'bucketspace sync restore shop');
  assert.equal(
    restoreCommand('my shop', '2026-11-30T12-34-56.789Z'),
    "bucketspace sync restore 'my shop' --at 2026-11-30T12-34-56.789Z",
  );
});
