import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  deleteRefusals,
  deleteVerdict,
  exceedsMaxDelete,
  missingWorkspacesRefusal,
} from './rails.ts';
import { parseMaxDelete } from './sync-settings.ts';

test('default delete limit: refuse only when more than half AND more than 10', () => {
  const d = { kind: 'default' } as const;
  assert.equal(exceedsMaxDelete(10, 10, d), false, '10 of 10 is allowed (not more than 10)');
  assert.equal(exceedsMaxDelete(11, 12, d), true);
  assert.equal(exceedsMaxDelete(11, 22, d), false, 'exactly half is allowed');
  assert.equal(exceedsMaxDelete(12, 22, d), true);
  assert.equal(exceedsMaxDelete(400, 1000, d), false);
  assert.equal(exceedsMaxDelete(0, 0, d), false);
});

test('--max-delete as a count or a percentage', () => {
  assert.deepEqual(parseMaxDelete('25'), { kind: 'count', value: 25 });
  assert.deepEqual(parseMaxDelete('10%'), { kind: 'percent', value: 10 });
  assert.equal(parseMaxDelete('150%'), undefined);
  assert.equal(parseMaxDelete('ten'), undefined);
  assert.equal(parseMaxDelete('2.5'), undefined);
  assert.equal(exceedsMaxDelete(3, 100, { kind: 'count', value: 2 }), true);
  assert.equal(exceedsMaxDelete(2, 100, { kind: 'count', value: 2 }), false);
  assert.equal(exceedsMaxDelete(11, 100, { kind: 'percent', value: 10 }), true);
  assert.equal(exceedsMaxDelete(10, 100, { kind: 'percent', value: 10 }), false);
  assert.equal(
    exceedsMaxDelete(1, 100, { kind: 'count', value: 0 }),
    true,
    '--max-delete 0 forbids any delete',
  );
});

describe('deleteRefusals', () => {
  const base = {
    workspace: 'app',
    target: 'objects' as const,
    maxDelete: { kind: 'default' } as const,
  };

  test('nothing to delete: never refused', () => {
    assert.deepEqual(
      deleteRefusals({
        ...base,
        deletes: 0,
        total: 0,
        empty: { rule: 'workspace-dir', reason: 'x' },
      }),
      [],
    );
  });

  test('each rail with its rule code and the numbers', () => {
    const unreadable = deleteRefusals({
      ...base,
      deletes: 2,
      total: 100,
      unreadable: { count: 1, first: { relPath: 'src', message: 'EACCES' } },
    });
    assert.deepEqual(
      unreadable.map((r) => [r.rule, r.deletesWithheld]),
      [['walk-errors', 2]],
    );
    assert.match(
      unreadable[0]?.message ?? '',
      /app: 1 directories could not be read \(src: EACCES\); refusing to delete 2 objects/,
    );

    const empty = deleteRefusals({
      ...base,
      deletes: 3,
      total: 3,
      empty: { rule: 'workspace-dir', reason: 'the workspace directory is empty' },
    });
    assert.deepEqual(
      empty.map((r) => r.rule),
      ['workspace-dir'],
    );
    assert.match(empty[0]?.message ?? '', /refusing to delete its 3 objects/);

    const pull = deleteRefusals({
      ...base,
      target: 'local files',
      deletes: 3,
      total: 3,
      empty: {
        rule: 'remote-empty',
        reason: 'nothing in the bucket is pulled into this workspace',
      },
    });
    assert.deepEqual(
      pull.map((r) => r.rule),
      ['remote-empty'],
      'pull: the empty-workspace rail',
    );
    assert.match(pull[0]?.message ?? '', /3 local files/);

    const mass = deleteRefusals({ ...base, deletes: 20, total: 30 });
    assert.deepEqual(
      mass.map((r) => r.rule),
      ['max-delete'],
    );
    assert.match(
      mass[0]?.message ?? '',
      /app: 20 of 30 objects would be deleted, more than the default limit/,
    );
  });

  test('watch mode: the deletions of the window count with these', () => {
    const alone = deleteRefusals({
      ...base,
      deletes: 1,
      total: 10,
      recent: { count: 0, windowMs: 60_000 },
    });
    assert.deepEqual(alone, [], 'one of 20 is fine');
    const windowed = deleteRefusals({
      ...base,
      deletes: 1,
      total: 9,
      recent: { count: 10, windowMs: 60_000 },
    });
    assert.deepEqual(
      windowed.map((r) => r.rule),
      ['max-delete'],
    );
    assert.match(
      windowed[0]?.message ?? '',
      /1 more objects would be deleted after 10 in the last 60 s \(11 of 19\)/,
    );
  });
});

describe('missingWorkspacesRefusal and deleteVerdict', () => {
  test('no local workspace at all: removing the missing ones is refused', () => {
    const input = { workspacesDir: '/w', missing: ['a'], objects: 5 };
    assert.equal(missingWorkspacesRefusal({ ...input, localWorkspaces: 1 }), undefined);
    const refusal = missingWorkspacesRefusal({ ...input, localWorkspaces: 0 });
    assert.equal(refusal?.rule, 'workspaces-dir');
    assert.match(refusal?.message ?? '', /has no workspaces at all; refusing to remove 5 objects/);
    assert.match(refusal?.message ?? '', /bucketspace sync --force/, 'says how to proceed');
    assert.equal(missingWorkspacesRefusal({ ...input, localWorkspaces: 0, objects: 0 }), undefined);
  });

  test('several workspaces gone at once (two of three): refused; one of two is not', () => {
    const two = missingWorkspacesRefusal({
      workspacesDir: '/w',
      localWorkspaces: 1,
      missing: ['api', 'shop'],
      objects: 12,
    });
    assert.equal(two?.rule, 'several-workspaces');
    assert.equal(two?.deletesWithheld, 12);
    assert.match(two?.message ?? '', /2 workspace directories disappeared at once \(api, shop\)/);
    assert.match(two?.message ?? '', /bucketspace sync restore <workspace>/);
    assert.equal(
      missingWorkspacesRefusal({
        workspacesDir: '/w',
        localWorkspaces: 1,
        missing: ['shop'],
        objects: 7,
      }),
      undefined,
      'one workspace gone while another is there: what people mean',
    );
  });

  test('--force overrides every refusal (and says which); --no-delete blocks without one', () => {
    const refusal = deleteRefusals({
      workspace: 'a',
      target: 'objects',
      deletes: 20,
      total: 30,
      maxDelete: { kind: 'default' },
    });
    assert.deepEqual(deleteVerdict(refusal, { force: false, noDelete: false }), {
      blockedBy: 'safety refusal',
      refusals: refusal,
      overridden: [],
    });
    assert.deepEqual(deleteVerdict(refusal, { force: true, noDelete: false }), {
      blockedBy: undefined,
      refusals: [],
      overridden: refusal,
    });
    assert.equal(deleteVerdict([], { force: false, noDelete: true }).blockedBy, '--no-delete');
    assert.equal(deleteVerdict([], { force: false, noDelete: false }).blockedBy, undefined);
  });
});
