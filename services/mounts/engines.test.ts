import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_OPTIONS } from './mount-options.ts';
import { rcloneCommand } from './rclone-engine.ts';
import { s3fsCommand, s3fsProblems } from './s3fs-engine.ts';
import type { MountSpec } from './types.ts';

const SECRET = 'wJalrXUtnFEMI-very-secret';
const spec: MountSpec = {
  bucket: 'data',
  mountPoint: '/tmp/ana/bucketspace/data',
  source: {
    kind: 's3',
    endpoint: 'http://127.0.0.1:9000',
    region: 'us-east-1',
    forcePathStyle: true,
  },
  options: DEFAULT_OPTIONS,
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: SECRET },
  cacheDir: '/state/cache/data',
};
const base = { PATH: '/usr/bin', HOME: '/home/ana', AWS_CA_BUNDLE: '/etc/ca.pem' };

test('rclone: the S3 remote is defined in the environment; argv holds no key', () => {
  const cmd = rcloneCommand(spec, base);
  assert.equal(cmd.file, 'rclone');
  assert.deepEqual(cmd.args, [
    'mount',
    'bucketspace:data',
    '/tmp/ana/bucketspace/data',
    '--vfs-cache-mode',
    'writes',
    '--cache-dir',
    '/state/cache/data',
    '--log-level',
    'NOTICE',
  ]);
  assert.ok(!cmd.args.join(' ').includes(SECRET) && !cmd.args.join(' ').includes('AKIDEXAMPLE'));
  assert.equal(cmd.env.RCLONE_CONFIG_BUCKETSPACE_TYPE, 's3');
  assert.equal(cmd.env.RCLONE_CONFIG_BUCKETSPACE_PROVIDER, 'Other');
  assert.equal(cmd.env.RCLONE_CONFIG_BUCKETSPACE_ENDPOINT, 'http://127.0.0.1:9000');
  assert.equal(cmd.env.RCLONE_CONFIG_BUCKETSPACE_SECRET_ACCESS_KEY, SECRET);
  assert.equal(cmd.env.RCLONE_CONFIG_BUCKETSPACE_FORCE_PATH_STYLE, 'true');
  assert.equal(cmd.env.PATH, '/usr/bin');
  assert.equal(cmd.env.AWS_CA_BUNDLE, undefined, 'rclone 1.60 fails with AWS_CA_BUNDLE set');
});

test('rclone: every option becomes its flag; AWS without keys uses the default chain', () => {
  const cmd = rcloneCommand(
    {
      ...spec,
      source: { kind: 's3', endpoint: null, region: 'eu-west-1', forcePathStyle: false },
      credentials: undefined,
      options: {
        readOnly: true,
        cacheMode: 'full',
        cacheSize: '1G',
        dirCacheMs: 60_000,
        excludes: ['*.tmp', 'cache/**'],
      },
    },
    { ...base, RCLONE_CONFIG_BUCKETSPACE_ACL: 'public-read' },
  );
  assert.deepEqual(cmd.args.slice(3), [
    '--vfs-cache-mode',
    'full',
    '--vfs-cache-max-size',
    '1G',
    '--dir-cache-time',
    '60000ms',
    '--read-only',
    '--exclude',
    '*.tmp',
    '--exclude',
    'cache/**',
    '--cache-dir',
    '/state/cache/data',
    '--ca-cert',
    '/etc/ca.pem',
    '--log-level',
    'NOTICE',
  ]);
  assert.equal(cmd.env.RCLONE_CONFIG_BUCKETSPACE_PROVIDER, 'AWS');
  assert.equal(cmd.env.RCLONE_CONFIG_BUCKETSPACE_ENV_AUTH, 'true');
  assert.equal(cmd.env.RCLONE_CONFIG_BUCKETSPACE_ENDPOINT, undefined);
  assert.equal(
    cmd.env.RCLONE_CONFIG_BUCKETSPACE_ACL,
    undefined,
    'stray settings of our remote are dropped',
  );
});

test('rclone: an existing remote is used as configured, with no remote in the environment', () => {
  const cmd = rcloneCommand({ ...spec, source: { kind: 'remote', name: 'lab-s3' } }, base);
  assert.equal(cmd.args[1], 'lab-s3:data');
  assert.ok(!Object.keys(cmd.env).some((k) => k.startsWith('RCLONE_CONFIG_BUCKETSPACE_')));
});

test('s3fs: foreground, options as -o, keys in the environment only', () => {
  const cmd = s3fsCommand(
    { ...spec, options: { ...DEFAULT_OPTIONS, readOnly: true, dirCacheMs: 1500 } },
    base,
  );
  assert.equal(cmd.file, 's3fs');
  assert.deepEqual(cmd.args, [
    'data',
    '/tmp/ana/bucketspace/data',
    '-f',
    '-o',
    'url=http://127.0.0.1:9000',
    '-o',
    'endpoint=us-east-1',
    '-o',
    'use_path_request_style',
    '-o',
    'ro',
    '-o',
    'use_cache=/state/cache/data',
    '-o',
    'stat_cache_expire=2',
  ]);
  assert.equal(cmd.env.AWSACCESSKEYID, 'AKIDEXAMPLE');
  assert.equal(cmd.env.AWSSECRETACCESSKEY, SECRET);
  assert.ok(!cmd.args.join(' ').includes(SECRET));
  const off = s3fsCommand({ ...spec, options: { ...DEFAULT_OPTIONS, cacheMode: 'off' } }, base);
  assert.ok(!off.args.some((a) => a.startsWith('use_cache')));
});

test('s3fs says what it cannot do: rclone remotes, excludes, cache size', () => {
  assert.deepEqual(s3fsProblems(spec.source, DEFAULT_OPTIONS), []);
  const problems = s3fsProblems(
    { kind: 'remote', name: 'lab' },
    { ...DEFAULT_OPTIONS, excludes: ['x'], cacheSize: '1G' },
  );
  assert.equal(problems.length, 3);
  assert.ok(problems.every((p) => p.includes('rclone')));
});
