// The s3fs engine for real: mount, read through two links, keys only in the environment, unmount.
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { useTestS3 } from './support/s3-fixture.ts';
import { runCli } from './support/run-cli.ts';
import {
  makeSandbox,
  mountsUnder,
  processesUsing,
  seedBucket,
  type MountSandbox,
} from './support/mount-sandbox.ts';
import type { MountRecord } from '../services/mounts/types.ts';

const fixture = useTestS3();
let box: MountSandbox;
beforeEach(async () => {
  box = await makeSandbox(fixture);
});
afterEach(async () => {
  await box.cleanup();
});

test('s3fs: mount, read through both links, no key in argv, unmount', async () => {
  const bucket = fixture.s3.newBucketName();
  await seedBucket(fixture.client, bucket, { 'top.txt': 'top\n', 'dir/inner.txt': 'inner\n' });
  const r1 = box.root('a');
  const r2 = box.root('b');
  const res = await runCli(
    ['mount', 'add', bucket, '--engine', 's3fs', '--root', r1, '--root', r2, '--read-only'],
    box.env(),
  );
  assert.equal(res.code, 0, res.stderr);
  const mountPoint = join(box.mountDir, bucket);
  assert.deepEqual(await mountsUnder(box.dir), [mountPoint]);
  for (const root of [r1, r2]) {
    assert.equal(await readFile(join(root, bucket, 'top.txt'), 'utf8'), 'top\n');
    assert.equal(await readFile(join(root, bucket, 'dir', 'inner.txt'), 'utf8'), 'inner\n');
  }
  const [pid] = await processesUsing(box.dir);
  const argv = await readFile(`/proc/${pid}/cmdline`, 'utf8');
  assert.match(argv, /^s3fs\0/);
  assert.ok(argv.includes('\0ro\0'), 'read-only');
  assert.ok(!argv.includes(fixture.s3.secretAccessKey), argv);
  const [rec] = JSON.parse(
    (await runCli(['mount', 'list', '--json'], box.env())).stdout,
  ) as MountRecord[];
  assert.equal(rec?.engine, 's3fs');
  assert.equal(rec?.pid, pid);
  assert.equal(rec?.healthy, true);

  const off = await runCli(['mount', 'remove', bucket], box.env());
  assert.equal(off.code, 0, off.stderr);
  assert.deepEqual(await mountsUnder(box.dir), []);
  assert.deepEqual(await processesUsing(box.dir), []);
  await assert.rejects(lstat(join(r1, bucket)), { code: 'ENOENT' });
  await assert.rejects(lstat(join(r2, bucket)), { code: 'ENOENT' });
});
