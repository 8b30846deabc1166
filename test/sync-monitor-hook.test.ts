// The sync tells the monitor what changed: a real `sync watch` process, a real S3 API,
// and the monitor's real HTTP layer (over an in-memory MonitorApi) receiving the hook.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listKeys } from './support/bucket.ts';
import { startMonitor, TEST_TOKEN } from './support/monitor-fixture.ts';
import { runCli } from './support/run-cli.ts';
import { useTestS3 } from './support/s3-fixture.ts';
import { eventually, startWatch } from './support/watch-process.ts';
import { makeTree } from './support/workspace-tree.ts';

const fixture = useTestS3({ SYNC_DEBOUNCE: '50ms' });

describe('monitor hook', () => {
  test('sync watch tells the monitor which workspaces changed after each batch', async () => {
    const monitor = await startMonitor();
    const tree = await makeTree({ 'app/index.js': 'v1', 'site/index.html': '<h1>hi</h1>' });
    const bucket = fixture.s3.newBucketName();
    const watch = await startWatch(
      fixture.env(tree, bucket, { MONITOR_URL: monitor.base, MONITOR_TOKEN: TEST_TOKEN }),
    );
    const hooks = () => monitor.api.callsOf('notifyChanged').map(([names]) => names as string[]);
    try {
      await eventually('the initial sync is announced', async () =>
        Promise.resolve(hooks().length === 1),
      );
      assert.deepEqual(hooks(), [['app', 'site']]);

      await writeFile(join(tree.workspacesDir, 'app/index.js'), 'v2');
      await eventually('the edit is announced', async () => Promise.resolve(hooks().length === 2));
      assert.deepEqual(hooks()[1], ['app']);

      // An ignored file uploads nothing, so it is not announced; the next real change is
      // announced alone.
      await tree.write({ 'app/node_modules/dep/index.js': 'ignored' });
      await writeFile(join(tree.workspacesDir, 'site/about.html'), 'about');
      await eventually('the new page is announced', async () =>
        Promise.resolve(
          hooks()
            .slice(2)
            .some((h) => h.includes('site')),
        ),
      );
      assert.ok(
        hooks()
          .slice(2)
          .every((h) => !h.includes('app')),
        `app was announced without an upload: ${JSON.stringify(hooks())}`,
      );
      assert.ok(
        watch.lines().every((l) => l.level !== 40 || l.component !== 'monitor-hook'),
        'no warning while the monitor answers',
      );
    } finally {
      await watch.stop();
      await monitor.close();
      await tree.remove();
    }
  });

  test('a wrong token or a monitor that is down is warned about once and never stops the sync', async () => {
    const monitor = await startMonitor();
    const tree = await makeTree({ 'app/index.js': 'v1' });
    const bucket = fixture.s3.newBucketName();
    const watch = await startWatch(
      fixture.env(tree, bucket, { MONITOR_URL: monitor.base, MONITOR_TOKEN: 'not-the-token' }),
    );
    try {
      for (const n of [1, 2, 3]) {
        await writeFile(join(tree.workspacesDir, `app/f${n}.js`), String(n));
        await eventually(`f${n}.js uploaded`, async () =>
          (await listKeys(fixture.client, bucket)).includes(`app/f${n}.js`),
        );
      }
      // The monitor goes away entirely: still no new warning (same outage), still syncing.
      await monitor.close();
      await writeFile(join(tree.workspacesDir, 'app/f4.js'), '4');
      await eventually('f4.js uploaded with the monitor down', async () =>
        (await listKeys(fixture.client, bucket)).includes('app/f4.js'),
      );
      await watch.waitForLog(
        (l) => l.msg === 'batch synced' && JSON.stringify(l.workspaces) === '["app"]',
      );
      const warns = watch.lines().filter((l) => l.level === 40 && l.component === 'monitor-hook');
      assert.equal(warns.length, 1, JSON.stringify(warns));
      assert.match(String(warns[0]?.reason), /401: MONITOR_TOKEN/);
      assert.deepEqual(monitor.api.callsOf('notifyChanged'), [], 'the monitor refused them all');
      assert.ok(
        !JSON.stringify(watch.lines()).includes('not-the-token'),
        'the token is never logged',
      );
    } finally {
      await watch.stop();
      await tree.remove();
    }
  });

  test('one-shot sync announces what it changed; MONITOR_URL without MONITOR_TOKEN is a config error', async () => {
    const monitor = await startMonitor();
    const tree = await makeTree({ 'app/index.js': 'v1', 'blog/index.html': 'b' });
    const bucket = fixture.s3.newBucketName();
    try {
      const env = fixture.env(tree, bucket, {
        MONITOR_URL: monitor.base,
        MONITOR_TOKEN: TEST_TOKEN,
      });
      const first = await runCli(['sync', 'workspace', 'blog'], env);
      assert.equal(first.code, 0, first.stderr);
      assert.deepEqual(monitor.api.callsOf('notifyChanged'), [[['blog']]]);
      const noop = await runCli(['sync', 'workspace', 'blog'], env);
      assert.equal(noop.code, 0, noop.stderr);
      const dry = await runCli(['sync', '--dry-run'], env);
      assert.equal(dry.code, 0, dry.stderr);
      assert.equal(
        monitor.api.callsOf('notifyChanged').length,
        1,
        'no-op and dry runs say nothing',
      );

      const bad = await runCli(['sync'], fixture.env(tree, bucket, { MONITOR_URL: monitor.base }));
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /MONITOR_TOKEN: required with MONITOR_URL/);
      const badUrl = await runCli(
        ['sync'],
        fixture.env(tree, bucket, { MONITOR_URL: 'monitor:8080', MONITOR_TOKEN: 'x' }),
      );
      assert.equal(badUrl.code, 2);
      assert.match(badUrl.stderr, /MONITOR_URL .*must be an http\(s\) URL/);
      assert.ok(!badUrl.stderr.includes('"x"'), 'the token is not echoed');
    } finally {
      await monitor.close();
      await tree.remove();
    }
  });
});
