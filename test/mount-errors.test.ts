// Bad input and a hostile machine: a clear error, nothing clobbered, the registry consistent.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  chmod,
  lstat,
  mkdir,
  open,
  readFile,
  readlink,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { useTestS3 } from './support/s3-fixture.ts';
import { runCli, type CliResult } from './support/run-cli.ts';
import {
  makeSandbox,
  mountsUnder,
  seedBucket,
  type MountSandbox,
} from './support/mount-sandbox.ts';
import { isBucketspaceError } from '../services/common/errors.ts';
import type { MountRecord } from '../services/mounts/types.ts';

const fixture = useTestS3();
let box: MountSandbox;
let bucket: string;
beforeEach(async () => {
  box = await makeSandbox(fixture);
  bucket = fixture.s3.newBucketName();
  await seedBucket(fixture.client, bucket, { 'f.txt': 'content\n' });
});
afterEach(async () => {
  await box.cleanup();
});

async function records(): Promise<MountRecord[]> {
  const res = await runCli(['mount', 'list', '--json'], box.env());
  assert.equal(res.code, 0, res.stderr);
  return JSON.parse(res.stdout) as MountRecord[];
}

function failsWith(res: CliResult, code: number, message: RegExp): void {
  assert.equal(res.code, code, `exit code; stderr: ${res.stderr}`);
  assert.match(res.stderr, message);
}

describe('mount: bad input', () => {
  test('invalid bucket names are refused with the S3 rule they break, nothing recorded', async () => {
    for (const [name, rule] of [
      ['ab', /3 to 63 characters/],
      ['My_Bucket', /lowercase letters, digits/],
      ['s3://192.168.1.1', /IP address/],
      ['dash-', /begin and end/],
      ['s3://bucket/prefix', /whole bucket/],
    ] as const) {
      failsWith(await runCli(['mount', 'add', name, '--root', box.root('r')], box.env()), 2, rule);
    }
    assert.deepEqual(await records(), []);
    assert.deepEqual(await mountsUnder(box.dir), []);
  });

  test('a root inside the mount directory (or through a link into a mount) is refused', async () => {
    failsWith(
      await runCli(
        ['mount', 'add', bucket, '--root', join(box.mountDir, bucket, 'sub')],
        box.env(),
      ),
      2,
      /inside the mount directory/,
    );
    failsWith(
      await runCli(['mount', 'add', bucket, '--root', box.mountDir], box.env()),
      2,
      /inside the mount directory/,
    );
    assert.deepEqual(await records(), []);
    // Through our own link: <root>/<bucket>/deeper resolves into the mount.
    const r = box.root('r');
    assert.equal((await runCli(['mount', 'add', bucket, '--root', r], box.env())).code, 0);
    failsWith(
      await runCli(['mount', 'add', bucket, '--root', join(r, bucket, 'deeper')], box.env()),
      2,
      /inside the mount directory/,
    );
    const [rec] = await records();
    assert.deepEqual(
      rec?.links.map((l) => l.path),
      [join(r, bucket)],
    );
  });

  test('a file or directory already at the link path is never replaced', async () => {
    const r1 = box.root('r1');
    await mkdir(r1, { recursive: true });
    await writeFile(join(r1, bucket), 'my notes\n');
    failsWith(
      await runCli(['mount', 'add', bucket, '--root', r1], box.env()),
      1,
      new RegExp(`${join(r1, bucket)} is already a file, not a link to`),
    );
    assert.equal(await readFile(join(r1, bucket), 'utf8'), 'my notes\n');
    assert.deepEqual(await records(), [], 'refused before anything was recorded');
    assert.deepEqual(await mountsUnder(box.dir), []);

    // Adding a root to a running mount: a directory or a foreign symlink there is refused too.
    const ok = box.root('ok');
    assert.equal((await runCli(['mount', 'add', bucket, '--root', ok], box.env())).code, 0);
    const before = (await records())[0];
    const r2 = box.root('r2');
    await mkdir(join(r2, bucket), { recursive: true });
    failsWith(
      await runCli(['mount', 'add', bucket, '--root', r2], box.env()),
      1,
      /is already a directory/,
    );
    const r3 = box.root('r3');
    await mkdir(r3, { recursive: true });
    await symlink('/etc', join(r3, bucket));
    failsWith(
      await runCli(['mount', 'add', bucket, '--root', r3], box.env()),
      1,
      /is already a symlink to \/etc/,
    );
    assert.equal(await readlink(join(r3, bucket)), '/etc');
    const after = (await records())[0];
    assert.deepEqual(after?.links, before?.links);
    assert.equal(after?.pid, before?.pid, 'the running mount was not touched');
  });

  test('bad options and options an engine cannot do are refused, every problem named', async () => {
    const res = await runCli(
      [
        'mount',
        'add',
        bucket,
        '--root',
        box.root('r'),
        '--cache-size',
        'lots',
        '--dir-cache',
        'soon',
      ],
      box.env(),
    );
    failsWith(res, 2, /cache size must look like 500M or 1G/);
    assert.match(res.stderr, /dir cache must be a duration/);
    failsWith(
      await runCli(
        ['mount', 'add', bucket, '--root', box.root('r'), '--engine', 's3fs', '--exclude', '*.tmp'],
        box.env(),
      ),
      2,
      /s3fs cannot hide paths/,
    );
    assert.deepEqual(await records(), []);
  });

  test('mounting again with other options is a conflict, not a silent change', async () => {
    assert.equal(
      (await runCli(['mount', 'add', bucket, '--root', box.root('a')], box.env())).code,
      0,
    );
    failsWith(
      await runCli(['mount', 'add', bucket, '--root', box.root('b'), '--read-only'], box.env()),
      1,
      /already set up differently \(read-only: mounted with false, asked for true\)/,
    );
    const [rec] = await records();
    assert.equal(rec?.options.readOnly, false);
    assert.equal(rec?.links.length, 1);
  });

  test('a mount point with files in it is not mounted over; the failure is recorded', async () => {
    const mountPoint = join(box.mountDir, bucket);
    await mkdir(mountPoint, { recursive: true });
    await writeFile(join(mountPoint, 'stray.txt'), 'written while unmounted\n');
    failsWith(
      await runCli(['mount', 'add', bucket, '--root', box.root('r')], box.env()),
      1,
      /is not empty \(stray.txt\)/,
    );
    assert.equal(
      await readFile(join(mountPoint, 'stray.txt'), 'utf8'),
      'written while unmounted\n',
    );
    assert.deepEqual(await mountsUnder(box.dir), []);
    const [rec] = await records();
    assert.equal(rec?.state, 'error');
    assert.equal(rec?.failures, 1);
    assert.match(rec?.lastError ?? '', /not empty/);
  });
});

describe('mount: roots that are no place for links', () => {
  test('regression: --root /, /etc, /proc and a symlink to /etc are refused; nothing recorded, nothing linked', async () => {
    const sneaky = join(box.dir, 'sneaky');
    await symlink('/etc', sneaky);
    for (const root of ['/', '/etc', '/proc', '/proc/self', sneaky]) {
      failsWith(
        await runCli(['mount', 'add', bucket, '--root', root, '--no-start'], box.env()),
        2,
        /is (\(through symlinks\) \/etc, )?a system directory: links are never made there/,
      );
    }
    assert.deepEqual(await records(), []);
    for (const p of [`/${bucket}`, `/etc/${bucket}`]) {
      await assert.rejects(lstat(p), { code: 'ENOENT' }, p);
    }
  });

  test('regression: a root that is a file is a clear error, not ENOTDIR', async () => {
    const file = join(box.dir, 'notes.txt');
    await writeFile(file, 'mine\n');
    failsWith(
      await runCli(['mount', 'add', bucket, '--root', file, '--no-start'], box.env()),
      2,
      new RegExp(`--root ${file.replaceAll('/', '\\/')} is a file, not a directory`),
    );
    failsWith(
      await runCli(['mount', 'add', bucket, '--root', join(file, 'sub'), '--no-start'], box.env()),
      2,
      /cannot be created: .*notes\.txt is a file, not a directory/,
    );
    assert.deepEqual(await records(), []);
    assert.equal(await readFile(file, 'utf8'), 'mine\n');
  });
});

describe('mount: a machine that cannot mount', () => {
  test('a mount directory others can write to is refused (another user could swap mount points)', async () => {
    await mkdir(box.mountDir, { recursive: true });
    await chmod(box.mountDir, 0o777);
    failsWith(
      await runCli(['mount', 'add', bucket, '--root', box.root('r')], box.env()),
      1,
      /must belong to you and be writable only by you .*mode 777/,
    );
    assert.deepEqual(await mountsUnder(box.dir), []);
    const [rec] = await records();
    assert.equal(rec?.state, 'error', 'recorded as wanted but failing');
    assert.match(rec?.lastError ?? '', /writable only by you/);
    await chmod(box.mountDir, 0o700);
    const start = await runCli(['mount', 'start', bucket], box.env());
    assert.equal(start.code, 0, start.stderr);
    assert.equal(await readFile(join(box.root('r'), bucket, 'f.txt'), 'utf8'), 'content\n');
  });

  test('rclone missing: a clear error naming how to install it, nothing recorded', async () => {
    const bin = join(box.dir, 'bin-no-rclone');
    await mkdir(bin);
    await symlink('/usr/bin/fusermount3', join(bin, 'fusermount3'));
    failsWith(
      await runCli(['mount', 'add', bucket, '--root', box.root('r')], box.env({ PATH: bin })),
      1,
      /rclone is not installed \(not found on PATH\): install rclone/,
    );
    assert.deepEqual(await records(), []);
  });

  test('fusermount missing: a clear error, nothing recorded', async () => {
    const bin = join(box.dir, 'bin-no-fuse');
    await mkdir(bin);
    await symlink('/usr/bin/rclone', join(bin, 'rclone'));
    failsWith(
      await runCli(['mount', 'add', bucket, '--root', box.root('r')], box.env({ PATH: bin })),
      1,
      /fusermount is not installed .*install fuse3/,
    );
    assert.deepEqual(await records(), []);
  });

  test('/dev/fuse missing: MOUNT_UNAVAILABLE, nothing recorded', async () => {
    const ctx = box.open({}, join(box.dir, 'no-such-device'));
    try {
      await assert.rejects(
        ctx.manager.add({ bucket, roots: [box.root('r')] }),
        (err) =>
          isBucketspaceError(err, 'MOUNT_UNAVAILABLE') &&
          err.message.includes('no-such-device is missing, so FUSE cannot mount here'),
      );
      assert.deepEqual(ctx.manager.list(), []);
    } finally {
      ctx.close();
    }
    await assert.rejects(lstat(join(box.root('r'), bucket)), { code: 'ENOENT' });
  });

  test('a busy mount is not unmounted: MOUNT_BUSY naming the process; --force unmounts lazily', async () => {
    const r = box.root('r');
    assert.equal((await runCli(['mount', 'add', bucket, '--root', r], box.env())).code, 0);
    const handle = await open(join(r, bucket, 'f.txt'), 'r');
    try {
      const res = await runCli(['mount', 'stop', bucket], box.env());
      failsWith(res, 1, new RegExp(`is busy: .*\\(pid ${process.pid}\\).*use --force`));
      assert.deepEqual(await mountsUnder(box.dir), [join(box.mountDir, bucket)], 'still mounted');
      assert.equal(await readlink(join(r, bucket)), join(box.mountDir, bucket), 'link kept');
      const [rec] = await records();
      assert.equal(rec?.state, 'running');
      assert.equal(await handle.readFile('utf8'), 'content\n', 'the open file still reads');
    } finally {
      await handle.close();
    }

    // A process working inside the mount: --force detaches it anyway.
    const sleeper = spawn('sleep', ['60'], { cwd: join(r, bucket), stdio: 'ignore' });
    await once(sleeper, 'spawn');
    try {
      failsWith(await runCli(['mount', 'remove', bucket], box.env()), 1, /is busy: sleep/);
      const forced = await runCli(['mount', 'remove', bucket, '--force'], box.env());
      assert.equal(forced.code, 0, forced.stderr);
      assert.deepEqual(await mountsUnder(box.dir), []);
      assert.deepEqual(await records(), []);
    } finally {
      sleeper.kill('SIGKILL');
    }
  });
});
