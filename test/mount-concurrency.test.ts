// Several CLI processes adding roots to the same bucket at the same moment:
// one mount, every link, a consistent registry.
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readlink } from 'node:fs/promises';
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

test('concurrent `mount add` of one bucket with different roots: one mount, every link', async () => {
  const bucket = fixture.s3.newBucketName();
  const other = fixture.s3.newBucketName();
  await seedBucket(fixture.client, bucket, { 'f.txt': 'shared\n' });
  await seedBucket(fixture.client, other, { 'g.txt': 'other\n' });
  const roots = [1, 2, 3, 4, 5].map((i) => box.root(`p${i}`));
  const results = await Promise.all([
    ...roots.map((root) => runCli(['mount', 'add', bucket, '--root', root], box.env())),
    // A different bucket at the same time is not held up by the first one's lease.
    runCli(['mount', 'add', other, '--root', roots[0] as string], box.env()),
  ]);
  for (const res of results) assert.equal(res.code, 0, res.stderr);

  const mountPoint = join(box.mountDir, bucket);
  assert.deepEqual(
    (await mountsUnder(box.dir)).sort(),
    [mountPoint, join(box.mountDir, other)].sort(),
  );
  assert.equal((await processesUsing(box.dir)).length, 2, 'one mount process per bucket');
  for (const root of roots) {
    assert.equal(await readlink(join(root, bucket)), mountPoint);
    assert.equal(await readFile(join(root, bucket, 'f.txt'), 'utf8'), 'shared\n');
  }
  const list = await runCli(['mount', 'list', '--json'], box.env());
  const records = JSON.parse(list.stdout) as MountRecord[];
  const rec = records.find((r) => r.bucket === bucket);
  assert.equal(rec?.state, 'running');
  assert.deepEqual(rec?.links.map((l) => l.path).sort(), roots.map((r) => join(r, bucket)).sort());
  assert.equal(rec?.failures, 0);
  assert.equal(records.length, 2);
});
