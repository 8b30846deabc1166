import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_OPTIONS } from './mount-options.ts';
import {
  checkedLinks,
  mountPointProblem,
  sourceProblem,
  type RecordTrust,
} from './record-check.ts';
import type { MountRecord } from './types.ts';

const trust: RecordTrust = {
  mountDir: '/tmp/ana/bucketspace',
  uid: 1000,
  s3: { endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', forcePathStyle: true },
};

function record(over: Partial<MountRecord> = {}): MountRecord {
  return {
    id: 'data',
    bucket: 'data',
    mountPoint: '/tmp/ana/bucketspace/data',
    engine: 'rclone',
    source: {
      kind: 's3',
      endpoint: 'http://127.0.0.1:9000',
      region: 'us-east-1',
      forcePathStyle: true,
    },
    options: DEFAULT_OPTIONS,
    auto: false,
    ownerUid: 1000,
    state: 'stopped',
    pid: null,
    lastError: null,
    lastErrorAt: null,
    failures: 0,
    healthy: null,
    lastCheckAt: null,
    links: [],
    createdAt: '',
    updatedAt: '',
    ...over,
  };
}

test('regression: a recorded mount point must lie inside MOUNT_DIR', () => {
  assert.equal(mountPointProblem(record(), trust), undefined);
  for (const mountPoint of [
    '/home/ana/.ssh',
    '/tmp/ana/bucketspace',
    '/tmp/ana/bucketspace/../evil',
    '/tmp/ana/bucketspace-evil/data',
    '/etc',
  ]) {
    assert.match(
      mountPointProblem(record({ mountPoint }), trust) ?? '',
      /not inside MOUNT_DIR/,
      mountPoint,
    );
  }
});

test('regression: a recorded endpoint is used only when it is ours or we recorded it', () => {
  const evil = {
    kind: 's3' as const,
    endpoint: 'http://attacker.example:9000',
    region: 'us-east-1',
    forcePathStyle: true,
  };
  assert.equal(sourceProblem(record({ source: evil }), trust), undefined, 'recorded by us');
  assert.match(
    sourceProblem(record({ source: evil, ownerUid: 1001 }), trust) ?? '',
    /is at http:\/\/attacker\.example:9000 .*recorded by uid 1001.*refusing to send your keys there/,
  );
  assert.match(
    sourceProblem(record({ source: evil, ownerUid: null }), trust) ?? '',
    /recorded by an unknown user/,
  );
  assert.equal(
    sourceProblem(record({ ownerUid: 1001 }), trust),
    undefined,
    'the same endpoint as our settings',
  );
  assert.match(
    sourceProblem(
      record({
        ownerUid: 1001,
        source: { ...evil, endpoint: 'http://127.0.0.1:9000', region: 'eu-west-1' },
      }),
      trust,
    ) ?? '',
    /region eu-west-1/,
  );
  assert.equal(
    sourceProblem(record({ ownerUid: 1001, source: { kind: 'remote', name: 'mine' } }), trust),
    undefined,
    'an rclone remote is looked up in our own rclone.conf',
  );
  assert.ok(
    sourceProblem(record({ source: evil }), { ...trust, uid: undefined }),
    'no uid: settings only',
  );
});

test('recorded links must be <root>/<bucket> under a root mount add accepts', () => {
  const { links, problems } = checkedLinks(
    record({
      links: [
        { root: '/home/ana/p1', path: '/home/ana/p1/data' },
        { root: '/home/ana/p2', path: '/home/ana/.bashrc' },
        { root: '/etc', path: '/etc/data' },
        { root: '/tmp/ana/bucketspace/x', path: '/tmp/ana/bucketspace/x/data' },
      ],
    }),
    trust,
  );
  assert.deepEqual(links, [{ root: '/home/ana/p1', path: '/home/ana/p1/data' }]);
  assert.equal(problems.length, 3);
  assert.match(problems[0] ?? '', /not <root>\/data/);
  assert.match(problems[1] ?? '', /system directory/);
  assert.match(problems[2] ?? '', /inside the mount directory/);
});
