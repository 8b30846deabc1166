import { test } from 'node:test';
import assert from 'node:assert/strict';
import { entryProblem, type EntryFacts } from './private-path.ts';

const dir = (uid: number, mode: number): EntryFacts => ({ uid, mode, kind: 'directory' });
const ME = 1000;

test('what must be ours: owned by us and writable by nobody else', () => {
  const own = (facts: EntryFacts) => entryProblem('/p', facts, { uid: ME, role: 'own' });
  assert.equal(own(dir(ME, 0o700)), undefined);
  assert.equal(own(dir(ME, 0o755)), undefined);
  assert.equal(own({ uid: ME, mode: 0o600, kind: 'file' }), undefined);
  assert.match(
    own(dir(ME, 0o777)) ?? '',
    /must belong to you and be writable only by you \(owner uid 1000, mode 777; you are uid 1000\)/,
  );
  assert.match(own(dir(ME, 0o770)) ?? '', /mode 770/, 'group-writable');
  assert.match(own(dir(0, 0o700)) ?? '', /owner uid 0/, 'not even root’s');
  assert.match(own({ uid: 1001, mode: 0o600, kind: 'file' }) ?? '', /owner uid 1001/);
});

test('the directories above: ours or root’s, and others may write only with the sticky bit', () => {
  const above = (facts: EntryFacts) => entryProblem('/a', facts, { uid: ME, role: 'ancestor' });
  assert.equal(above(dir(0, 0o755)), undefined);
  assert.equal(above(dir(0, 0o1777)), undefined, '/tmp');
  assert.equal(above(dir(ME, 0o755)), undefined);
  assert.match(
    above(dir(1001, 0o700)) ?? '',
    /belongs to another user \(owner uid 1001/,
    '/tmp/<me> made by someone else',
  );
  assert.match(above(dir(0, 0o777)) ?? '', /writable by other users without the sticky bit/);
  assert.match(above(dir(0, 0o775)) ?? '', /without the sticky bit/);
  assert.match(
    above({ uid: 1001, mode: 0o777, kind: 'symlink' }) ?? '',
    /another user/,
    'a symlink of someone else',
  );
  assert.equal(
    above({ uid: 0, mode: 0o777, kind: 'symlink' }),
    undefined,
    'a symlink’s own mode means nothing',
  );
});
