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

const problemOf = (realRoot: string, realMountDir: string, root: string, absRoot = realRoot) =>
  rootProblem({ root, absRoot, realRoot, realMountDir });

test('roots inside the mount directory are refused', () => {
  const dir = '/tmp/ana/bucketspace';
  assert.match(problemOf(`${dir}/data/sub`, dir, '~/x') ?? '', /inside the mount directory/);
  assert.ok(problemOf(dir, dir, dir));
  assert.equal(problemOf('/tmp/ana/bucketspace-links', dir, 'x'), undefined);
  assert.equal(problemOf('/tmp/ana', dir, 'x'), undefined);
  assert.ok(isInside('/a/b/c', '/a/b/') && !isInside('/a/bc', '/a/b'));
});

test('regression: / , /etc, /proc and other system directories are never roots', () => {
  const dir = '/tmp/ana/bucketspace';
  for (const root of [
    '/',
    '/etc',
    '/etc/cron.d',
    '/proc',
    '/proc/self',
    '/sys/fs',
    '/dev',
    '/usr/local/bin',
    '/boot',
    '/var',
    '/home',
    '/run',
  ]) {
    assert.match(problemOf(root, dir, root) ?? '', /is a system directory/, root);
  }
  assert.match(
    problemOf('/etc', dir, '~/innocent', '/home/ana/innocent') ?? '',
    /\(through symlinks\) \/etc, a system directory/,
    'a symlink to /etc is found out',
  );
  for (const root of [
    '/home/ana/data',
    '/var/data',
    '/mnt/disk',
    '/srv/team',
    '/opt/x',
    '/tmp/ana/links',
    '/data',
  ]) {
    assert.equal(problemOf(root, dir, root), undefined, root);
  }
});
