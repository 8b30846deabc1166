// `bucketspace sync watch` against a real S3 API, driven by real file changes.
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, readlink, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { useTestS3 } from './support/s3-fixture.ts';
import { makeTree } from './support/workspace-tree.ts';
import { listKeys, readObject, trashKeys, workspaceKeys } from './support/bucket.ts';
import { eventually, startWatch } from './support/watch-process.ts';
import { startCliProcess } from './support/cli-process.ts';
import { CLI } from './support/run-cli.ts';
import { startCountingProxy } from './support/counting-proxy.ts';

const fixture = useTestS3({ SYNC_DEBOUNCE: '50ms' });

describe('sync watch', () => {
  test('follows creates, edits, editor-style saves, deletes and new workspaces; never uploads ignored files', async () => {
    const tree = await makeTree({ 'app/index.js': 'v1', 'app/node_modules/dep/i.js': 'dep' });
    const bucket = fixture.s3.newBucketName();
    const watch = await startWatch(fixture.env(tree, bucket));
    try {
      assert.deepEqual(
        await listKeys(fixture.client, bucket),
        ['app/index.js'],
        'initial full sync',
      );
      const ws = join(tree.workspacesDir, 'app');

      await writeFile(join(ws, 'new.js'), 'new file');
      await eventually(
        'new.js uploaded',
        async () => (await readObject(fixture.client, bucket, 'app/new.js')) === 'new file',
      );

      await writeFile(join(ws, 'index.js'), 'v2');
      await eventually(
        'index.js edited',
        async () => (await readObject(fixture.client, bucket, 'app/index.js')) === 'v2',
      );

      // An editor that writes a temp file and renames it over the original.
      await writeFile(join(ws, '.index.js.swp~'), 'v3 via rename');
      await rename(join(ws, '.index.js.swp~'), join(ws, 'index.js'));
      await eventually(
        'index.js replaced by rename',
        async () => (await readObject(fixture.client, bucket, 'app/index.js')) === 'v3 via rename',
      );

      await writeFile(join(ws, 'node_modules/dep/new.js'), 'ignored');
      await writeFile(join(ws, 'debug.log'), 'ignored');
      await writeFile(join(ws, '.env'), 'SECRET=1');

      await rm(join(ws, 'new.js'));
      await eventually(
        'new.js deleted',
        async () => !(await listKeys(fixture.client, bucket)).includes('app/new.js'),
      );

      await mkdir(join(tree.workspacesDir, 'site/public'), { recursive: true });
      await writeFile(join(tree.workspacesDir, 'site/public/index.html'), '<h1>hi</h1>');
      await eventually('a new workspace is picked up', async () =>
        (await listKeys(fixture.client, bucket)).includes('site/public/index.html'),
      );

      const keys = await workspaceKeys(fixture.client, bucket);
      assert.deepEqual(
        keys,
        ['app/index.js', 'site/public/index.html'],
        'no temp files, logs, .env or node_modules',
      );
      assert.deepEqual(await trashKeys(fixture.client, bucket), ['.trash/app/<entry>/new.js']);
    } finally {
      const stopped = await watch.stop();
      assert.equal(stopped.code, 0, 'SIGTERM exits cleanly');
      await tree.remove();
    }
  });

  test('renamed files and directories move to their new keys; edits inside a renamed directory are synced', async () => {
    const tree = await makeTree({
      'app/index.js': 'x',
      'app/old.js': 'renamed file',
      'app/lib/deep/util.js': 'u',
      'app/lib/other.js': 'o',
    });
    const bucket = fixture.s3.newBucketName();
    const watch = await startWatch(fixture.env(tree, bucket));
    const ws = join(tree.workspacesDir, 'app');
    const expected = (keys: string[]) => async () =>
      (await workspaceKeys(fixture.client, bucket)).join() === keys.join();
    try {
      await rename(join(ws, 'old.js'), join(ws, 'new.js'));
      await rename(join(ws, 'lib'), join(ws, 'src'));
      await eventually(
        'the renamed file and directory are under their new keys only',
        expected(['app/index.js', 'app/new.js', 'app/src/deep/util.js', 'app/src/other.js']),
      );
      await writeFile(join(ws, 'src/deep/util.js'), 'u2');
      await writeFile(join(ws, 'src/deep/added.js'), 'a');
      await eventually(
        'edits inside the renamed directory are synced',
        async () =>
          (await readObject(fixture.client, bucket, 'app/src/deep/util.js')) === 'u2' &&
          (await listKeys(fixture.client, bucket)).includes('app/src/deep/added.js'),
      );
      assert.equal(await readObject(fixture.client, bucket, 'app/new.js'), 'renamed file');
      assert.deepEqual(
        await trashKeys(fixture.client, bucket),
        [
          '.trash/app/<entry>/lib/deep/util.js',
          '.trash/app/<entry>/lib/other.js',
          '.trash/app/<entry>/old.js',
        ],
        'the old keys are in the trash',
      );
    } finally {
      await watch.stop();
      await tree.remove();
    }
  });

  test('editing a .gitignore takes effect at once, in both directions', async () => {
    const tree = await makeTree({
      'app/index.js': 'x',
      'app/secret/a.txt': 'a',
      'app/secret/b.txt': 'b',
    });
    const bucket = fixture.s3.newBucketName();
    const watch = await startWatch(fixture.env(tree, bucket));
    try {
      assert.deepEqual(await listKeys(fixture.client, bucket), [
        'app/index.js',
        'app/secret/a.txt',
        'app/secret/b.txt',
      ]);
      await writeFile(join(tree.workspacesDir, 'app/.gitignore'), 'secret/\n');
      await eventually('now-ignored objects deleted', async () => {
        const keys = await workspaceKeys(fixture.client, bucket);
        return keys.join() === ['app/.gitignore', 'app/index.js'].join();
      });
      // Changes inside an ignored directory are not uploaded.
      await writeFile(join(tree.workspacesDir, 'app/secret/c.txt'), 'c');
      await writeFile(join(tree.workspacesDir, 'app/.gitignore'), '# nothing ignored now\n');
      await eventually(
        're-included files uploaded, including one written while ignored',
        async () => {
          const keys = await listKeys(fixture.client, bucket);
          return ['app/secret/a.txt', 'app/secret/b.txt', 'app/secret/c.txt'].every((k) =>
            keys.includes(k),
          );
        },
      );
      // And the directory is watched again.
      await writeFile(join(tree.workspacesDir, 'app/secret/d.txt'), 'd');
      await eventually('file in re-included directory uploaded', async () =>
        (await listKeys(fixture.client, bucket)).includes('app/secret/d.txt'),
      );
    } finally {
      await watch.stop();
      await tree.remove();
    }
  });

  test('a burst of 500 files (like a git checkout) is coalesced into a few batches', async () => {
    const tree = await makeTree({ 'app/index.js': 'x' });
    const bucket = fixture.s3.newBucketName();
    const watch = await startWatch(fixture.env(tree, bucket, { SYNC_DEBOUNCE: '200ms' }));
    try {
      const batchesBefore = watch.lines().filter((l) => l.msg === 'batch synced').length;
      await mkdir(join(tree.workspacesDir, 'app/gen'), { recursive: true });
      await Promise.all(
        Array.from({ length: 500 }, (_, i) =>
          writeFile(join(tree.workspacesDir, `app/gen/f${i}.js`), `export default ${i}\n`),
        ),
      );
      await eventually(
        'all 500 uploaded',
        async () => (await listKeys(fixture.client, bucket, 'app/gen/')).length === 500,
        60_000,
      );
      const count = () =>
        watch.lines().filter((l) => l.msg === 'batch synced').length - batchesBefore;
      // The batch logs once its state is saved, which can be just after the last object is visible.
      await eventually('the batch is logged', () => Promise.resolve(count() > 0));
      const batches = count();
      assert.ok(batches >= 1 && batches <= 6, `500 files in ${batches} batches`);
    } finally {
      await watch.stop();
      await tree.remove();
    }
  });

  test(
    'S3 down: keeps running, retries with backoff, and converges when it is back',
    {
      skip: process.env.S3_TEST_ENDPOINT ? 'needs the in-process s3rver to stop and start' : false,
    },
    async () => {
      const tree = await makeTree({ 'app/index.js': 'v1' });
      const bucket = fixture.s3.newBucketName();
      const watch = await startWatch(fixture.env(tree, bucket, { S3_MAX_ATTEMPTS: '1' }));
      try {
        await fixture.s3.stop();
        await writeFile(join(tree.workspacesDir, 'app/index.js'), 'written while S3 was down');
        await writeFile(join(tree.workspacesDir, 'app/added.js'), 'added while down');
        await watch.waitForLog((l) => l.msg === 'changes not yet in the bucket; retrying');
        await fixture.s3.start();
        await eventually(
          'both changes reach S3 after the outage',
          async () =>
            (await readObject(fixture.client, bucket, 'app/index.js')) ===
              'written while S3 was down' &&
            (await readObject(fixture.client, bucket, 'app/added.js')) === 'added while down',
          45_000,
        );
        await watch.waitForLog((l) => l.msg === 'caught up: all changes are in the bucket');
        assert.equal(watch.child.exitCode, null, 'still running');
      } finally {
        await watch.stop();
        await tree.remove();
      }
    },
  );

  test('SYNC_DELETE_MISSING_WORKSPACES=false: a removed workspace directory keeps its objects; mass deletion is refused', async () => {
    const files = Object.fromEntries(
      Array.from({ length: 20 }, (_, i) => [`app/f${i}.txt`, `${i}`]),
    );
    const tree = await makeTree({ ...files, 'gone/a.txt': 'a' });
    const bucket = fixture.s3.newBucketName();
    const watch = await startWatch(
      fixture.env(tree, bucket, { SYNC_DELETE_MISSING_WORKSPACES: 'false' }),
    );
    try {
      await rm(join(tree.workspacesDir, 'gone'), { recursive: true });
      await watch.waitForLog(
        (l) =>
          l.workspace === 'gone' &&
          typeof l.msg === 'string' &&
          l.msg.includes('its objects stay in the bucket'),
      );
      for (let i = 0; i < 15; i++) await rm(join(tree.workspacesDir, `app/f${i}.txt`));
      await watch.waitForLog(
        (l) =>
          l.rule === 'max-delete' &&
          l.workspace === 'app' &&
          typeof l.msg === 'string' &&
          l.msg.startsWith('refused:'),
      );
      const keys = await listKeys(fixture.client, bucket);
      assert.ok(keys.includes('gone/a.txt'), 'removed workspace kept');
      // The burst may reach the watcher as more than one batch; the rail
      // counts them together, so at most 10 (50% of 20) can have gone.
      const kept = keys.filter((k) => k.startsWith('app/')).length;
      assert.ok(kept >= 10, `no mass delete: ${kept} of 20 kept`);
    } finally {
      await watch.stop();
      await tree.remove();
    }
  });

  test('files deleted one by one still count as a mass deletion', async () => {
    const files = Object.fromEntries(
      Array.from({ length: 20 }, (_, i) => [`app/f${i}.txt`, `${i}`]),
    );
    const tree = await makeTree(files);
    const bucket = fixture.s3.newBucketName();
    const watch = await startWatch(fixture.env(tree, bucket, { SYNC_DEBOUNCE: '50ms' }));
    try {
      // Each deletion its own batch: far apart compared with the debounce.
      for (let i = 0; i < 15; i++) {
        await rm(join(tree.workspacesDir, `app/f${i}.txt`));
        await new Promise((r) => setTimeout(r, 300));
      }
      await watch.waitForLog(
        (l) =>
          l.rule === 'max-delete' &&
          typeof l.msg === 'string' &&
          /refused: .* in the last 60 s/.test(l.msg),
      );
      const kept = (await workspaceKeys(fixture.client, bucket)).length;
      assert.ok(kept >= 10, `at most 10 of 20 deleted one by one: ${kept} kept`);
      assert.ok(kept < 20, 'the first few deletions went through');
    } finally {
      await watch.stop();
      await tree.remove();
    }
  });
});

/** Number of inotify watches a process holds (Linux: /proc/<pid>/fdinfo). */
async function inotifyWatches(pid: number): Promise<number> {
  let count = 0;
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    if (!target.includes('inotify')) continue;
    const info = await readFile(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    count += info.split('\n').filter((l) => l.startsWith('inotify ')).length;
  }
  return count;
}

describe('sync watch: starting', () => {
  test('regression: an edit made during the first full sync is synced at once, not at the next reconcile', async () => {
    const tree = await makeTree({ 'app/a.txt': 'v1', 'app/zz-last.txt': 'last' });
    const bucket = fixture.s3.newBucketName();
    let held: () => void = () => undefined;
    let reached: () => void = () => undefined;
    const heldThere = new Promise<void>((resolve) => (reached = resolve));
    // Holds the first full sync at its last upload (uploads go one at a time, in order).
    const proxy = await startCountingProxy(() => fixture.s3.endpoint, {
      hold: ({ method, url }) =>
        method === 'PUT' && url.includes('/app/zz-last.txt')
          ? new Promise<void>((resolve) => {
              held = resolve;
              reached();
            })
          : undefined,
    });
    const watch = await startCliProcess({
      args: ['sync', 'watch', '--concurrency', '1'],
      env: fixture.env(tree, bucket, {
        S3_ENDPOINT: proxy.url,
        SYNC_RECONCILE_INTERVAL: '1h',
      }),
      readyMessage: 'starting watch',
    });
    try {
      await heldThere;
      assert.equal(
        await readObject(fixture.client, bucket, 'app/a.txt'),
        'v1',
        'a.txt went up first',
      );
      await writeFile(
        join(tree.workspacesDir, 'app/a.txt'),
        'v2, written while the first sync ran',
      );
      held();
      await watch.waitForLog((l) => l.msg === 'started watch');
      await eventually(
        'the edit reaches the bucket without waiting for the hourly reconcile',
        async () =>
          (await readObject(fixture.client, bucket, 'app/a.txt')) ===
          'v2, written while the first sync ran',
      );
    } finally {
      held();
      await watch.stop();
      await proxy.close();
      await tree.remove();
    }
  });

  test('workspaces the monitor cannot run are synced and named in the log', async () => {
    const tree = await makeTree({ 'UPPER/a.txt': 'a', 'api/b.txt': 'b', 'ok/c.txt': 'c' });
    const bucket = fixture.s3.newBucketName();
    const watch = await startWatch(fixture.env(tree, bucket));
    try {
      const notes = watch
        .lines()
        .filter(
          (l) =>
            l.level === 40 &&
            typeof l.msg === 'string' &&
            l.msg.includes('the monitor will not run it'),
        );
      assert.deepEqual(notes.map((l) => l.workspace).sort(), ['UPPER', 'api']);
      assert.match(
        String(notes.find((l) => l.workspace === 'api')?.reason),
        /reserved for the monitor/,
      );
      assert.deepEqual(await listKeys(fixture.client, bucket), [
        'UPPER/a.txt',
        'api/b.txt',
        'ok/c.txt',
      ]);
    } finally {
      await watch.stop();
      await tree.remove();
    }
  });
});

describe('sync watch: excluded trees cost nothing', () => {
  test(
    'directories under node_modules are never watched',
    { skip: process.platform !== 'linux' ? 'reads /proc' : false },
    async () => {
      const files: Record<string, string> = { 'app/src/a.js': 'a' };
      for (let i = 0; i < 300; i++) files[`app/node_modules/pkg${i}/lib/index.js`] = 'x';
      const tree = await makeTree(files);
      const bucket = fixture.s3.newBucketName();
      const watch = await startWatch(fixture.env(tree, bucket));
      try {
        const pid = watch.child.pid ?? 0;
        const watches = await inotifyWatches(pid);
        assert.ok(
          watches > 0 && watches < 10,
          `${watches} inotify watches for 3 watched directories and 600 ignored ones`,
        );
      } finally {
        await watch.stop();
        await tree.remove();
      }
    },
  );
});

/**
 * A command prefix that runs the CLI in its own user namespace with the
 * kernel's inotify watch limit set to `watches` (Linux 5.11+, unprivileged
 * user namespaces), or why that cannot be done here.
 */
function withWatchLimit(watches: number): { prefix: string[] } | { skip: string } {
  if (process.platform !== 'linux') return { skip: 'inotify is Linux only' };
  const script = `echo ${watches} > /proc/sys/user/max_inotify_watches && exec "$@"`;
  const probe = spawnSync('unshare', ['-U', '-r', 'sh', '-c', script, 'sh', 'true']);
  if (probe.status !== 0)
    return { skip: `cannot set a watch limit in a user namespace: ${probe.stderr.toString()}` };
  return { prefix: ['unshare', '-U', '-r', 'sh', '-c', script, 'sh'] };
}

describe("sync watch: the kernel's watch limit", () => {
  const limit = withWatchLimit(3);
  test(
    'regression: a watch limit reached is told once with the way out, and what could not be watched is still synced',
    { skip: 'skip' in limit ? limit.skip : false },
    async () => {
      const files: Record<string, string> = { 'app/index.js': 'v1' };
      for (let i = 0; i < 8; i++) files[`app/lib/d${i}/f.js`] = `f${i}`;
      const tree = await makeTree(files);
      const bucket = fixture.s3.newBucketName();
      const [file = 'unshare', ...argv] = 'prefix' in limit ? limit.prefix : [];
      const watch = await startCliProcess({
        args: ['sync', 'watch'],
        env: fixture.env(tree, bucket, { SYNC_RECONCILE_INTERVAL: '1s' }),
        readyMessage: 'started watch',
        command: { file, argv: [...argv, process.execPath, CLI, 'sync', 'watch'] },
      });
      try {
        const told = watch
          .lines()
          .filter((l) => l.msg === 'watcher error' && l.workspace === 'app')
          .map((l) => JSON.stringify(l.err));
        assert.equal(
          told.length,
          1,
          `told once for the workspace, not once per directory: ${told.join('\n')}`,
        );
        assert.match(told[0] ?? '', /inotify watches is reached.*max_user_watches/);
        assert.equal(
          (await listKeys(fixture.client, bucket)).length,
          9,
          'the first sync sends all',
        );
        await writeFile(join(tree.workspacesDir, 'app/index.js'), 'v2');
        await writeFile(join(tree.workspacesDir, 'app/lib/d7/g.js'), 'in a directory not watched');
        await eventually(
          'the edit in a watched directory and the file in an unwatched one are synced',
          async () =>
            (await readObject(fixture.client, bucket, 'app/index.js')) === 'v2' &&
            (await listKeys(fixture.client, bucket)).includes('app/lib/d7/g.js'),
        );
      } finally {
        await watch.stop();
        await tree.remove();
      }
    },
  );
});
