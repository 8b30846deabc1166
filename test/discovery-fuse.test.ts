// The monitor's scanner on a REAL rclone FUSE mount of the test S3 server:
// changes made in S3 show in the next scans; a killed rclone is "unavailable".
// And the monitor itself on such a mount: its containers' copies check out.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { readIgnoreFile } from '../services/common/ignore/workspace-filter.ts';
import { silentLogger } from '../services/common/logger.ts';
import { detectWorkspace } from '../services/monitor/detect/detect-workspace.ts';
import { TrashListing } from '../services/monitor/discovery/trash-listing.ts';
import { WorkspaceScanner } from '../services/monitor/discovery/workspace-scanner.ts';
import type { ScanResult, WorkspaceSnapshot } from '../services/monitor/types.ts';
import { useTestS3 } from './support/s3-fixture.ts';
import { fuseMissing, mountBucket, type RcloneMount } from './support/rclone-mount.ts';
import { ensureImages } from './support/images.ts';
import { TestMonitor } from './support/test-monitor.ts';
import { eventually } from './support/watch-process.ts';

const fixture = useTestS3();

describe('WorkspaceScanner on an rclone FUSE mount', () => {
  let dir: string;
  let mount: RcloneMount | undefined;
  let bucket: string;

  before(async () => {
    const missing = fuseMissing();
    if (missing !== undefined) throw new Error(`this test needs FUSE and rclone: ${missing}`);
    dir = await mkdtemp(path.join(tmpdir(), 'bucketspace-fuse-'));
    bucket = fixture.s3.newBucketName();
    await fixture.client.send(new CreateBucketCommand({ Bucket: bucket }));
  });

  after(async () => {
    await mount?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const put = (key: string, body: string) =>
    fixture.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));

  test('sees S3 changes in the next scans, reads nothing when unchanged, and reports a dead mount', async () => {
    await put('shop/package.json', '{"scripts":{"start":"node server.js"}}');
    await put('shop/server.js', 'require("http").createServer().listen(process.env.PORT)');
    await put('shop/node_modules/dep/index.js', 'ignored');
    await put('.bucketspace-backup/shop/old.js', 'not a workspace');
    mount = await mountBucket({ s3: fixture.s3, bucket, dir });

    let reads = 0;
    const scanner = new WorkspaceScanner({
      root: dir,
      logger: silentLogger(),
      expectMountPoint: true,
      readFile: (absPath, options) => {
        reads++;
        return readIgnoreFile(absPath, options);
      },
    });
    const scanOk = async (): Promise<Map<string, WorkspaceSnapshot>> => {
      const result = await scanner.scan();
      assert.equal(result.mount, 'ok', JSON.stringify(result));
      return result.mount === 'ok' ? result.workspaces : assert.fail();
    };

    const first = await scanOk();
    assert.deepEqual([...first.keys()], ['shop']);
    const shop = first.get('shop');
    assert.ok(shop);
    assert.deepEqual([shop.fileCount, shop.errors], [2, []]);
    const detection = detectWorkspace(shop.probe);
    assert.equal(detection.kind === 'runnable' && detection.plan.start, 'npm start');
    assert.equal(reads, 1, 'package.json read once');

    reads = 0;
    const unchanged = await scanOk();
    assert.equal(unchanged.get('shop')?.fingerprint, shop.fingerprint);
    assert.equal(reads, 0, 'an unchanged rescan reads no file');

    await put('shop/lib/util.js', 'module.exports = 1');
    await put('web/index.html', '<h1>hi</h1>');
    let changed: Map<string, WorkspaceSnapshot> | undefined;
    await eventually(
      'the uploads show in a scan',
      async () => {
        changed = await scanOk();
        return changed.has('web') && changed.get('shop')?.fingerprint !== shop.fingerprint;
      },
      30_000,
    );
    assert.deepEqual([...(changed?.keys() ?? [])], ['shop', 'web']);
    assert.equal(changed?.get('shop')?.fileCount, 3);
    assert.equal(changed?.get('web')?.probe.files.has('index.html'), true);

    await mount.kill();
    const dead: ScanResult = await scanner.scan();
    assert.equal(dead.mount, 'unavailable');
    assert.equal(
      dead.mount === 'unavailable' && dead.reason,
      `${dir}: Transport endpoint is not connected (ENOTCONN) — the FUSE mount died; restart the mount, or run "fusermount -uz ${dir}" and mount again`,
    );

    // Unmounted, the directory is empty: without expectMountPoint that would
    // look like a bucket with no workspaces.
    await mount.close();
    const unmounted = await scanner.scan();
    assert.deepEqual(unmounted, {
      mount: 'unavailable',
      reason: `${dir}: not a mount point (same filesystem as ${path.dirname(dir)}) — the bucket is not mounted there; start the mount`,
    });
  });

  test('a hung mount (rclone stopped) is unavailable after the root timeout', async () => {
    await mount?.close();
    await put('app/main.py', 'print(1)');
    mount = await mountBucket({ s3: fixture.s3, bucket, dir });
    const scanner = new WorkspaceScanner({
      root: dir,
      logger: silentLogger(),
      rootTimeoutMs: 1000,
    });
    assert.equal((await scanner.scan()).mount, 'ok');
    // Stopped for sure before the next scan: a request made while rclone was still stopping
    // used to be answered, and the scan then hung on the workspace's files.
    await mount.stop();
    try {
      const hung = await scanner.scan();
      assert.deepEqual(hung, {
        mount: 'unavailable',
        reason: `${dir}: no answer within 1s — the mount hangs (its FUSE process is stuck); check the mount's logs and restart it`,
      });
      // Still stuck: still unavailable (the stuck listing is joined, not repeated).
      assert.equal((await scanner.scan()).mount, 'unavailable');
    } finally {
      mount.resume();
    }
    assert.equal((await scanner.scan()).mount, 'ok', 'answers again once rclone runs');
  });

  test('the trash as the mount shows it: entries the sync moved there, never a workspace', async () => {
    await mount?.close();
    await put('kept/index.html', 'kept');
    await put('.trash/gone/2026-11-30T12-00-00.000Z/index.html', 'gone');
    await put('.trash/kept/2026-11-30T13-00-00.000Z/a.md', 'a draft');
    // s3rver answers a listing with a delimiter from the objects one level down only (it does
    // not walk deeper), so a prefix holding nothing but deeper prefixes is missing from it and
    // from the mount; S3 and MinIO list it. One object per level stands in for that here.
    await put('.trash/level.txt', 'for s3rver');
    for (const ws of ['gone', 'kept', 'app']) await put(`.trash/${ws}/level.txt`, 'for s3rver');
    mount = await mountBucket({ s3: fixture.s3, bucket, dir });
    const listing = new TrashListing({ root: dir, cacheMs: 0 });
    assert.deepEqual(
      (await listing.list()).map((e) => `${e.workspace}/${e.entry}`),
      ['kept/2026-11-30T13-00-00.000Z', 'gone/2026-11-30T12-00-00.000Z'],
    );
    const scan = await new WorkspaceScanner({ root: dir, logger: silentLogger() }).scan();
    assert.ok(scan.mount === 'ok' && !scan.workspaces.has('.trash'));
    await put('.trash/app/2026-11-30T14-00-00.000Z/main.py', 'print(2)');
    await eventually(
      'a new entry shows through the mount',
      async () => (await listing.list()).some((e) => e.workspace === 'app'),
      30_000,
    );
  });
});

describe('the monitor on an rclone mount', { timeout: 600_000 }, () => {
  let dir: string;
  let cacheDir: string;
  let mount: RcloneMount | undefined;
  let bucket: string;
  const m: TestMonitor = new TestMonitor(() => ({
    WORKSPACES_MOUNT: dir,
    MONITOR_REQUIRE_MOUNT: 'true',
  }));

  const put = (key: string, body: string) =>
    fixture.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));

  before(async () => {
    const missing = fuseMissing();
    if (missing !== undefined) throw new Error(`this test needs FUSE and rclone: ${missing}`);
    await ensureImages(['runtime-node']);
    dir = await mkdtemp(path.join(tmpdir(), 'bucketspace-fuse-monitor-'));
    cacheDir = await mkdtemp(path.join(tmpdir(), 'bucketspace-fuse-cache-'));
    bucket = fixture.s3.newBucketName();
    await fixture.client.send(new CreateBucketCommand({ Bucket: bucket }));
    await put('fuseapp/package.json', JSON.stringify({ scripts: { start: 'node server.js' } }));
    await put(
      'fuseapp/server.js',
      `const text = require('node:fs').readFileSync(__dirname + '/message.txt', 'utf8');
require('node:http').createServer((req, res) => res.end(text)).listen(Number(process.env.PORT));
process.on('SIGTERM', () => process.exit(0));
`,
    );
    await put('fuseapp/message.txt', 'fuse v1');
    // Containers read the mount as uid 10001: --allow-other, as the mount image runs it.
    // No content cache: with rclone 1.60's --vfs-cache-mode full, the shrinking edit below is
    // served as the old bytes cut to the new size, with the new size and mtime, which no check
    // through the mount can tell from the real thing (decision 0030).
    mount = await mountBucket({
      s3: fixture.s3,
      bucket,
      dir,
      extraArgs: ['--allow-other', '--vfs-cache-mode', 'off', '--cache-dir', cacheDir],
    });
    await m.init();
    await m.start();
  });

  after(async () => {
    await m.close();
    await mount?.close();
    await rm(dir, { recursive: true, force: true });
    await rm(cacheDir, { recursive: true, force: true });
  });

  test('deploys are verified against the scan: the first, a growing edit, a shrinking edit', async () => {
    for (const text of ['fuse v1', 'fuse v2, which is longer', 'fuse v3']) {
      if (text !== 'fuse v1') await put('fuseapp/message.txt', text);
      await eventually(
        `"${text}" served`,
        async () => (await m.appText('fuseapp')).startsWith(`200 ${text}`),
        120_000,
      );
      const v = await m.view('fuseapp');
      assert.deepEqual(
        [v.state, (v.deploy as { copy: string; files: number } | null)?.copy],
        ['running', 'verified'],
        JSON.stringify(v),
      );
    }
  });
});
