import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMacMount, parseMountinfo } from './mount-table.ts';

test('mountinfo: mount point, type and source, escapes decoded, optional fields skipped', () => {
  const text = [
    '24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=1k',
    '43 27 0:39 / /tmp/ana/bucketspace/data rw,nosuid,nodev,relatime shared:7 master:1 - fuse.rclone bucketspace{JZ6eT}:data rw,user_id=0',
    '44 27 0:40 / /tmp/with\\040space rw - fuse.s3fs s3fs rw',
    '',
  ].join('\n');
  assert.deepEqual(parseMountinfo(text), [
    { mountPoint: '/dev', fstype: 'devtmpfs', source: 'devtmpfs' },
    {
      mountPoint: '/tmp/ana/bucketspace/data',
      fstype: 'fuse.rclone',
      source: 'bucketspace{JZ6eT}:data',
    },
    { mountPoint: '/tmp/with space', fstype: 'fuse.s3fs', source: 's3fs' },
  ]);
});

test('macOS mount output', () => {
  const text = [
    '/dev/disk3s1s1 on / (apfs, sealed, local, read-only, journaled)',
    'bucketspace:data on /private/tmp/ana/bucketspace/data (macfuse, nodev, nosuid, synchronous, mounted by ana)',
  ].join('\n');
  const entries = parseMacMount(text);
  assert.deepEqual(entries[1], {
    source: 'bucketspace:data',
    mountPoint: '/private/tmp/ana/bucketspace/data',
    fstype: 'macfuse',
  });
  assert.equal(entries.length, 2);
});
