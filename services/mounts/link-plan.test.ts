import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isInside, linkPathFor, planLink, planUnlink, pointsAt, rootProblem } from './link-plan.ts';

const MP = '/tmp/ana/bucketspace/data';
const LINK = '/home/ana/s3_buckets/data';

test('the link is <root>/<bucket>', () => {
  assert.equal(linkPathFor('/home/ana/s3_buckets', 'data'), LINK);
  assert.equal(linkPathFor('/p/../q/', 'data'), '/q/data');
});

test('a link points at the mount by absolute or relative target', () => {
  assert.ok(pointsAt(LINK, MP, MP));
  assert.ok(pointsAt(LINK, '../../../tmp/ana/bucketspace/data', MP));
  assert.ok(!pointsAt(LINK, '/tmp/ana/bucketspace/other', MP));
});

test('mounting: create when free, keep our link, refuse anything else', () => {
  assert.deepEqual(planLink(LINK, MP, { kind: 'missing' }), { action: 'create' });
  assert.deepEqual(planLink(LINK, MP, { kind: 'symlink', target: MP }), { action: 'keep' });
  for (const [state, words] of [
    [{ kind: 'directory' }, 'a directory'],
    [{ kind: 'file' }, 'a file'],
    [{ kind: 'symlink', target: '/elsewhere' }, 'a symlink to /elsewhere'],
    [{ kind: 'other' }, 'not a symlink'],
  ] as const) {
    const d = planLink(LINK, MP, state);
    assert.equal(d.action, 'refuse');
    assert.ok(
      d.action === 'refuse' && d.reason.includes(words) && d.reason.includes(LINK),
      JSON.stringify(d),
    );
  }
});

test('unmounting: remove our link only; report anything else; a missing link is fine', () => {
  assert.deepEqual(planUnlink(LINK, MP, { kind: 'symlink', target: MP }), { action: 'remove' });
  assert.deepEqual(planUnlink(LINK, MP, { kind: 'missing' }), { action: 'gone' });
  const d = planUnlink(LINK, MP, { kind: 'directory' });
  assert.ok(d.action === 'leave' && d.reason.startsWith(`left ${LINK} alone`));
  assert.equal(planUnlink(LINK, MP, { kind: 'symlink', target: '/other' }).action, 'leave');
});

test('roots inside the mount directory are refused', () => {
  const dir = '/tmp/ana/bucketspace';
  assert.match(rootProblem(`${dir}/data/sub`, dir, '~/x') ?? '', /inside the mount directory/);
  assert.ok(rootProblem(dir, dir, dir));
  assert.equal(rootProblem('/tmp/ana/bucketspace-links', dir, 'x'), undefined);
  assert.equal(rootProblem('/tmp/ana', dir, 'x'), undefined);
  assert.ok(isInside('/a/b/c', '/a/b/') && !isInside('/a/bc', '/a/b'));
});
