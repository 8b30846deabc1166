// The mount manager with real rclone and FUSE against the test S3 server:
// one mount per bucket, many links, the registry, unmount, the bins and the TypeScript API.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { useTestS3 } from './support/s3-fixture.ts';
import { MOUNT_BUCKET, runCli, UNMOUNT_BUCKET } from './support/run-cli.ts';
import {
  makeSandbox,
  mountsUnder,
  processesUsing,
  seedBucket,
  type MountSandbox,
} from './support/mount-sandbox.ts';
import { isMounted, listMounts, mountBucket, unmountBucket } from '../services/mounts/mount-api.ts';
import type { MountRecord } from '../services/mounts/types.ts';

const fixture = useTestS3();
const FILES = { 'hello.txt': 'hello from the bucket\n', 'data/rows.csv': 'a,b\n1,2\n' };

let box: MountSandbox;
let bucket: string;
beforeEach(async () => {
  box = await makeSandbox(fixture);
  bucket = fixture.s3.newBucketName();
  await seedBucket(fixture.client, bucket, FILES);
});
afterEach(async () => {
  await box.cleanup();
});
function listJson(stdout: string): MountRecord[] {
  return JSON.parse(stdout) as MountRecord[];
}

describe('mount: one mount per bucket, many links', () => {
  test('two roots -> one mount, two symlinks, files readable through both', async () => {
    const r1 = box.root('project1');
    const r2 = box.root('project2');
    const res = await runCli(
      ['mount', 'add', `s3://${bucket}`, '--root', r1, '--root', r2],
      box.env(),
    );
    assert.equal(res.code, 0, res.stderr);
    const mountPoint = join(box.mountDir, bucket);
    assert.deepEqual(await mountsUnder(box.dir), [mountPoint]);
    for (const root of [r1, r2]) {
      const link = join(root, bucket);
      assert.ok((await lstat(link)).isSymbolicLink());
      assert.equal(await readlink(link), mountPoint);
      assert.equal(await readFile(join(link, 'hello.txt'), 'utf8'), FILES['hello.txt']);
      assert.equal(await readFile(join(link, 'data', 'rows.csv'), 'utf8'), FILES['data/rows.csv']);
    }
    assert.match(res.stdout, new RegExp(`mounted s3://${bucket} at ${mountPoint}`));

    // Mounting again with another root adds a link, not a second mount.
    const pid = listJson((await runCli(['mount', 'list', '--json'], box.env())).stdout)[0]?.pid;
    const r3 = box.root('project3');
    const again = await runCli(['mount', 'add', bucket, '--root', r3], box.env());
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(await mountsUnder(box.dir), [mountPoint]);
    const [rec] = listJson((await runCli(['mount', 'list', '--json'], box.env())).stdout);
    assert.equal(rec?.pid, pid, 'the same mount process');
    assert.deepEqual(
      rec?.links.map((l) => l.path),
      [r1, r2, r3].map((r) => join(r, bucket)),
    );
    assert.equal((await processesUsing(box.dir)).length, 1, 'one mount process');
    assert.equal(await readFile(join(r3, bucket, 'hello.txt'), 'utf8'), FILES['hello.txt']);
  });

  test('no secret in the mount process argv or in the registry', async () => {
    const res = await runCli(['mount', 'add', bucket, '--root', box.root('a')], box.env());
    assert.equal(res.code, 0, res.stderr);
    const [pid] = await processesUsing(box.dir);
    assert.ok(pid !== undefined);
    const argv = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    assert.match(argv, /^rclone\0mount\0bucketspace:/);
    assert.ok(!argv.includes(fixture.s3.secretAccessKey), argv);
    assert.ok(!argv.includes(fixture.s3.accessKeyId), argv);
    for (const file of [box.registry, `${box.registry}-wal`]) {
      const bytes = await readFile(file).catch(() => Buffer.alloc(0));
      assert.ok(!bytes.includes(fixture.s3.secretAccessKey), `${file} holds the secret`);
    }
    assert.ok(!res.stdout.includes(fixture.s3.secretAccessKey));
    assert.ok(!res.stderr.includes(fixture.s3.secretAccessKey));
  });

  test('unmount removes the mount and every link still pointing at it; anything else is left and reported', async () => {
    const r1 = box.root('keep');
    const r2 = box.root('replaced');
    assert.equal(
      (await runCli(['mount', 'add', bucket, '--root', r1, '--root', r2], box.env())).code,
      0,
    );
    // Someone replaced the second link by a directory of their own.
    await rm(join(r2, bucket));
    await mkdir(join(r2, bucket, 'mine'), { recursive: true });

    const res = await runCli([bucket], box.env(), { script: UNMOUNT_BUCKET });
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(await mountsUnder(box.dir), []);
    assert.deepEqual(await processesUsing(box.dir), []);
    await assert.rejects(lstat(join(r1, bucket)), { code: 'ENOENT' });
    assert.ok(
      (await lstat(join(r2, bucket, 'mine'))).isDirectory(),
      'their directory is untouched',
    );
    assert.match(res.stderr, new RegExp(`left ${join(r2, bucket)} alone: it is now a directory`));
    assert.match(res.stdout, /removed 1 link\b/);
    const list = await runCli(['mount', 'list', '--json'], box.env());
    assert.deepEqual(listJson(list.stdout), [], 'forgotten');
  });

  test('the registry survives restarts: a new process sees the mount, stop and start bring links back', async () => {
    const r1 = box.root('one');
    assert.equal(
      (await runCli(['mount', 'add', bucket, '--root', r1, '--auto'], box.env())).code,
      0,
    );
    const [before] = listJson((await runCli(['mount', 'list', '--json'], box.env())).stdout);
    assert.equal(before?.state, 'running');
    assert.equal(before?.healthy, true);
    assert.equal(before?.auto, true);

    const stop = await runCli(['mount', 'stop', bucket], box.env());
    assert.equal(stop.code, 0, stop.stderr);
    assert.deepEqual(await mountsUnder(box.dir), []);
    await assert.rejects(lstat(join(r1, bucket)), { code: 'ENOENT' });
    const [stopped] = listJson((await runCli(['mount', 'list', '--json'], box.env())).stdout);
    assert.equal(stopped?.state, 'stopped');
    assert.equal(stopped?.pid, null);
    assert.deepEqual(stopped?.links, before?.links, 'links stay recorded');

    // An in-process manager on the same registry (a "restarted" program) sees the same.
    const ctx = box.open();
    try {
      assert.equal(ctx.manager.get(bucket)?.state, 'stopped');
    } finally {
      ctx.close();
    }

    const start = await runCli(['mount', 'start', bucket], box.env());
    assert.equal(start.code, 0, start.stderr);
    assert.equal(await readFile(join(r1, bucket, 'hello.txt'), 'utf8'), FILES['hello.txt']);
    const status = await runCli(['mount', 'status', bucket], box.env());
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /mounted and answering/);
    assert.match(status.stdout, /auto-mounted by the daemon/);
  });

  test('an rclone remote from rclone.conf is an alternative source (no S3 keys needed)', async () => {
    const conf = join(box.dir, 'home', '.config', 'rclone', 'rclone.conf');
    await mkdir(join(conf, '..'), { recursive: true });
    await writeFile(
      conf,
      [
        '[lab]',
        'type = s3',
        'provider = Other',
        `endpoint = ${fixture.s3.endpoint}`,
        `access_key_id = ${fixture.s3.accessKeyId}`,
        `secret_access_key = ${fixture.s3.secretAccessKey}`,
        `region = ${fixture.s3.region}`,
        'force_path_style = true',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const env = box.env({ S3_ACCESS_KEY_ID: '', S3_SECRET_ACCESS_KEY: '', S3_ENDPOINT: '' });
    const r = box.root('lab');
    const res = await runCli(['mount', 'add', bucket, '--remote', 'lab', '--root', r], env);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(await readFile(join(r, bucket, 'hello.txt'), 'utf8'), FILES['hello.txt']);
    const [pid] = await processesUsing(box.dir);
    assert.match(await readFile(`/proc/${pid}/cmdline`, 'utf8'), new RegExp(`\\0lab:${bucket}\\0`));
    const [rec] = listJson((await runCli(['mount', 'list', '--json'], env)).stdout);
    assert.deepEqual(rec?.source, { kind: 'remote', name: 'lab' });
  });

  test('the seed bins: mount-bucket (default root, --status, --list) and unmount-bucket', async () => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
      bin: Record<string, string>;
    };
    assert.equal(pkg.bin['mount-bucket'], 'bin/mount-bucket.js');
    assert.equal(pkg.bin['unmount-bucket'], 'bin/unmount-bucket.js');
    const res = await runCli([`s3://${bucket}`], box.env(), { script: MOUNT_BUCKET });
    assert.equal(res.code, 0, res.stderr);
    const link = join(box.dir, 'default-root', bucket);
    assert.equal(await readFile(join(link, 'hello.txt'), 'utf8'), FILES['hello.txt']);

    const status = await runCli(['--status', bucket], box.env(), { script: MOUNT_BUCKET });
    assert.equal(status.code, 0, status.stderr);
    const list = await runCli(['--list'], box.env(), { script: MOUNT_BUCKET });
    assert.equal(list.code, 0);
    assert.match(list.stdout, new RegExp(`^${bucket}\\s+running\\s+ok`, 'm'));

    assert.equal((await runCli([bucket], box.env(), { script: UNMOUNT_BUCKET })).code, 0);
    const after = await runCli(['--status', bucket], box.env(), { script: MOUNT_BUCKET });
    assert.equal(after.code, 1, 'not mounted: exit code 1');
    assert.match(after.stderr, /no mount for bucket/);
    await assert.rejects(lstat(link), { code: 'ENOENT' });
  });

  test('the TypeScript API: mountBucket, isMounted, listMounts, unmountBucket', async () => {
    const env = box.env();
    const r1 = box.root('ts1');
    const r2 = box.root('ts2');
    const first = await mountBucket(bucket, { env, roots: [r1] });
    const second = await mountBucket(`s3://${bucket}`, { env, roots: [r2], readOnly: false });
    assert.equal(first.mountPoint, join(box.mountDir, bucket));
    assert.equal(second.mountPoint, first.mountPoint);
    assert.deepEqual(second.links, [join(r1, bucket), join(r2, bucket)]);
    assert.equal(await isMounted(bucket, { env }), true);
    const mounts = await listMounts({ env });
    assert.equal(mounts.length, 1);
    assert.equal(mounts[0]?.state, 'running');
    assert.equal(await readFile(join(r2, bucket, 'hello.txt'), 'utf8'), FILES['hello.txt']);

    const result = await unmountBucket(bucket, { env });
    assert.deepEqual(result.removedLinks.sort(), [join(r1, bucket), join(r2, bucket)].sort());
    assert.equal(await isMounted(bucket, { env }), false);
    assert.deepEqual(await listMounts({ env }), []);
  });
});
