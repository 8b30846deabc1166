import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  defaultMountDir,
  defaultRegistryPath,
  defaultRoot,
  platformKind,
  unmountCommand,
  type PlatformFacts,
} from './platform-defaults.ts';

const linux: PlatformFacts = { platform: 'linux', env: {}, home: '/home/ana', user: 'ana' };
const lightning: PlatformFacts = {
  ...linux,
  env: { LIGHTNING_CLOUD_SPACE_ID: '01abc' },
  home: '/teamspace/studios/this_studio',
};
const slurm: PlatformFacts = { ...linux, env: { SLURM_JOB_ID: '4242' } };
const mac: PlatformFacts = { platform: 'darwin', env: {}, home: '/Users/ana', user: 'ana' };

test('the platform is recognized: Lightning Studio, SLURM, other Linux, macOS', () => {
  assert.equal(platformKind(lightning), 'lightning');
  assert.equal(platformKind(slurm), 'slurm');
  assert.equal(platformKind(linux), 'linux');
  assert.equal(platformKind(mac), 'macos');
  assert.equal(platformKind({ ...linux, platform: 'win32' }), 'unsupported');
  // An empty variable is not a SLURM job; Lightning wins when both are set.
  assert.equal(platformKind({ ...linux, env: { SLURM_JOB_ID: '' } }), 'linux');
  assert.equal(
    platformKind({ ...lightning, env: { ...lightning.env, SLURM_JOB_ID: '1' } }),
    'lightning',
  );
});

test('default roots follow the seed: home everywhere, node-local /tmp under SLURM', () => {
  assert.equal(defaultRoot(lightning), '/teamspace/studios/this_studio/s3_buckets');
  assert.equal(defaultRoot(slurm), '/tmp/ana/s3_buckets');
  assert.equal(defaultRoot(linux), '/home/ana/s3_buckets');
  assert.equal(defaultRoot(mac), '/Users/ana/s3_buckets');
});

test('mount points live under /tmp/<user>/bucketspace', () => {
  assert.equal(defaultMountDir(linux), '/tmp/ana/bucketspace');
  assert.equal(defaultMountDir(mac), '/tmp/ana/bucketspace');
});

test('the registry lives in the XDG state dir, or node-local /tmp under SLURM', () => {
  assert.equal(defaultRegistryPath(linux), '/home/ana/.local/state/bucketspace/mounts.db');
  assert.equal(
    defaultRegistryPath({ ...linux, env: { XDG_STATE_HOME: '/var/state' } }),
    '/var/state/bucketspace/mounts.db',
  );
  assert.equal(defaultRegistryPath(slurm), '/tmp/ana/bucketspace-state/mounts.db');
});

test('unmount: fusermount -u (lazy -uz) on Linux, umount (-f) on macOS', () => {
  const opts = { fusermount: 'fusermount3' };
  assert.deepEqual(unmountCommand('linux', '/m/b', { ...opts, lazy: false }), {
    file: 'fusermount3',
    args: ['-u', '/m/b'],
  });
  assert.deepEqual(unmountCommand('slurm', '/m/b', { ...opts, lazy: true }), {
    file: 'fusermount3',
    args: ['-uz', '/m/b'],
  });
  assert.deepEqual(unmountCommand('macos', '/m/b', { ...opts, lazy: false }), {
    file: 'umount',
    args: ['/m/b'],
  });
  assert.deepEqual(unmountCommand('macos', '/m/b', { ...opts, lazy: true }), {
    file: 'umount',
    args: ['-f', '/m/b'],
  });
});
