// The sync tells the bucket's mount to read again what changed: a real `sync watch`
// process, a real S3 API, a real `rclone mount` (FUSE) with its remote
// control on, and the monitor's real HTTP layer receiving the hook after it.
// The mount keeps directory listings for an hour here, so only the hint can
// make an edit show through it within the test's seconds.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { mountRcPassword } from '../services/common/mount-rc-client.ts';
import { listKeys } from './support/bucket.ts';
import { freePort } from './support/compose-stack.ts';
import { MemoryMonitorApi } from './support/memory-monitor-api.ts';
import { startMonitor, TEST_TOKEN } from './support/monitor-fixture.ts';
import { fuseMissing, mountBucket, type RcloneMount } from './support/rclone-mount.ts';
import { useTestS3 } from './support/s3-fixture.ts';
import { eventually, startWatch } from './support/watch-process.ts';
import { makeTree } from './support/workspace-tree.ts';

const skip = fuseMissing() ?? false;
const fixture = useTestS3({ SYNC_DEBOUNCE: '50ms' });

/** A monitor that reads the edited file through the mount the moment it is told. */
class ReadingMonitorApi extends MemoryMonitorApi {
  readonly seen: string[] = [];
  file: string | undefined;
  override notifyChanged(names: string[]): void {
    super.notifyChanged(names);
    if (this.file !== undefined) {
      try {
        this.seen.push(readFileSync(this.file, 'utf8'));
      } catch (e) {
        this.seen.push(String(e));
      }
    }
  }
}

async function mounted(bucket: string, options: { dirCacheTime: string; pass: string }) {
  const dir = await mkdtemp(join(tmpdir(), 'bucketspace-hint-mnt-'));
  const port = await freePort();
  const mount = await mountBucket({
    s3: fixture.s3,
    bucket,
    dir,
    dirCacheTime: options.dirCacheTime,
    // As the stack's read-only mount: the kernel never keeps a file's old size
    // (a read of a grown file would stop at it).
    attrTimeout: '0s',
    rc: { port, user: 'bucketspace', pass: options.pass },
  });
  return { mount, url: `http://127.0.0.1:${port}` };
}

async function unmount(mount: RcloneMount): Promise<void> {
  await mount.close();
  await rm(mount.dir, { recursive: true, force: true });
}

describe('mount hints', { skip }, () => {
  test('sync watch makes the mount read the changed workspaces again before it tells the monitor', async () => {
    const tree = await makeTree({ 'app/index.js': 'v1 is long enough\n' });
    const bucket = fixture.s3.newBucketName();
    await fixture.client.send(new CreateBucketCommand({ Bucket: bucket }));
    // The password the mount image derives from the S3 secret: the sync derives it too.
    const { mount, url } = await mounted(bucket, {
      dirCacheTime: '1h',
      pass: mountRcPassword(fixture.s3.secretAccessKey),
    });
    const api = new ReadingMonitorApi();
    const monitor = await startMonitor({ api });
    const watch = await startWatch(
      fixture.env(tree, bucket, {
        MOUNT_RC_URL: url,
        MONITOR_URL: monitor.base,
        MONITOR_TOKEN: TEST_TOKEN,
      }),
    );
    const file = join(mount.dir, 'app', 'index.js');
    try {
      await eventually(
        'the initial sync shows through the mount',
        async () => (await readFile(file, 'utf8')) === 'v1 is long enough\n',
      );
      api.file = file;
      // A shrinking edit, a growing one, a new workspace: each visible at once.
      // (The initial sync's own hook may still arrive after this: what the
      // monitor read then is not this edit, so the test waits for a hook at
      // which the mount shows the edit; without the mount's hint none comes
      // within the hour the mount trusts its listings.)
      for (const body of ['v2\n', 'v3 is longer than both before it\n']) {
        api.seen.length = 0;
        await writeFile(join(tree.workspacesDir, 'app/index.js'), body);
        await eventually(
          `the monitor, when told, reads ${JSON.stringify(body)} through the mount`,
          async () => Promise.resolve(api.seen.includes(body)),
        );
        assert.equal(await readFile(file, 'utf8'), body);
      }
      await mkdir(join(tree.workspacesDir, 'blog'));
      await writeFile(join(tree.workspacesDir, 'blog/index.html'), '<p>blog</p>');
      await eventually('the new workspace shows through the mount', async () =>
        (await readdir(mount.dir)).includes('blog'),
      );
      assert.ok(
        watch.lines().every((l) => l.level !== 40),
        `no warning: ${JSON.stringify(watch.lines().filter((l) => l.level === 40))}`,
      );
    } finally {
      await watch.stop();
      await monitor.close();
      await unmount(mount);
      await tree.remove();
    }
  });

  test('a mount whose remote control is down or refuses: the sync still succeeds and says so once', async () => {
    const tree = await makeTree({ 'app/index.js': 'v1' });
    const bucket = fixture.s3.newBucketName();
    const closedPort = await freePort();
    const watch = await startWatch(
      fixture.env(tree, bucket, { MOUNT_RC_URL: `http://127.0.0.1:${closedPort}` }),
    );
    try {
      for (const n of [1, 2, 3]) {
        await writeFile(join(tree.workspacesDir, `app/f${n}.js`), String(n));
        await eventually(`f${n}.js uploaded`, async () =>
          (await listKeys(fixture.client, bucket)).includes(`app/f${n}.js`),
        );
      }
      await watch.waitForLog(
        (l) => l.msg === 'batch synced' && JSON.stringify(l.workspaces) === '["app"]',
      );
      const warns = watch.lines().filter((l) => l.level === 40 && l.component === 'mount-hint');
      assert.equal(warns.length, 1, JSON.stringify(warns));
      assert.equal(warns[0]?.reason, 'ECONNREFUSED');
      assert.match(String(warns[0]?.msg), /directory cache expires/);
    } finally {
      await watch.stop();
      await tree.remove();
    }
  });

  test('a lost hint: the mount shows the change once its directory cache expires', async () => {
    const tree = await makeTree({ 'app/index.js': 'first version\n' });
    const bucket = fixture.s3.newBucketName();
    await fixture.client.send(new CreateBucketCommand({ Bucket: bucket }));
    // The mount expects another password: every hint is refused (lost).
    const { mount, url } = await mounted(bucket, { dirCacheTime: '3s', pass: 'another-password' });
    const watch = await startWatch(fixture.env(tree, bucket, { MOUNT_RC_URL: url }));
    const file = join(mount.dir, 'app', 'index.js');
    try {
      await eventually(
        'the initial sync shows through the mount',
        async () => (await readFile(file, 'utf8')) === 'first version\n',
      );
      await writeFile(join(tree.workspacesDir, 'app/index.js'), 'second\n');
      await eventually(
        'the edit shows through the mount after its cache expired',
        async () => (await readFile(file, 'utf8')) === 'second\n',
      );
      const warns = watch.lines().filter((l) => l.level === 40 && l.component === 'mount-hint');
      assert.equal(warns.length, 1);
      assert.match(String(warns[0]?.reason), /401: MOUNT_RC_USER\/MOUNT_RC_PASS/);
    } finally {
      await watch.stop();
      await unmount(mount);
      await tree.remove();
    }
  });
});
