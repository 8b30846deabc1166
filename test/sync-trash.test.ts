// The trash, by default: what the sync removes from the bucket (a workspace whose directory is
// gone, deleted files) moves to .trash/<workspace>/<time>/, is purged after SYNC_TRASH_RETENTION,
// and comes back with `sync restore`. Against a real S3 API (s3rver, or S3_TEST_ENDPOINT).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, readdir, readFile, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { CopyObjectCommand, CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { useTestS3 } from './support/s3-fixture.ts';
import { runCli, summaryOf } from './support/run-cli.ts';
import { makeTree, type TempTree } from './support/workspace-tree.ts';
import { headObject, listKeys, readObject, trashKeys, workspaceKeys } from './support/bucket.ts';
import { eventually, startWatch } from './support/watch-process.ts';
import { startCountingProxy } from './support/counting-proxy.ts';
import { ManualClock } from './support/manual-clock.ts';
import type { Clock } from '../services/common/clock.ts';
import { silentLogger } from '../services/common/logger.ts';
import { S3ObjectStore } from '../services/common/s3/s3-object-store.ts';
import { finishS3Config, S3_SETTINGS } from '../services/common/s3/s3-settings.ts';
import { resolveSettings } from '../services/common/settings.ts';
import { trashEntryName } from '../services/common/trash-names.ts';
import { noProgress } from '../services/sync/progress.ts';
import { pushSync } from '../services/sync/push.ts';
import type { SyncContext } from '../services/sync/sync-context.ts';
import { SyncState } from '../services/sync/sync-state.ts';
import { TRASH_ENTRY_REUSE_MS, TrashEntries } from '../services/sync/trash/trash-entries.ts';

const fixture = useTestS3({ SYNC_DEBOUNCE: '50ms' });

const SHOP = {
  'shop/package.json': '{"name":"shop","scripts":{"start":"node index.js"}}',
  'shop/index.js': 'console.log("shop")\n',
  'shop/bin/run.sh': '#!/bin/sh\nexec node index.js\n',
  'shop/src/private.txt': 'only the owner reads this\n',
  'shop/.gitignore': 'coverage/\n',
  'shop/node_modules/dep/index.js': 'not synced',
};
const SHOP_KEYS = [
  'shop/.gitignore',
  'shop/bin/run.sh',
  'shop/index.js',
  'shop/package.json',
  'shop/src/private.txt',
];

/** Every synced file of a workspace: its content, mode and mtime (to the millisecond). */
async function snapshot(tree: TempTree, workspace: string, keys: readonly string[]) {
  const out: Record<string, { content: string; mode: number; mtimeMs: number }> = {};
  for (const key of keys) {
    const path = join(tree.workspacesDir, key);
    const st = await stat(path);
    out[key.slice(workspace.length + 1)] = {
      content: await readFile(path, 'utf8'),
      mode: st.mode & 0o7777,
      mtimeMs: Math.round(st.mtimeMs),
    };
  }
  return out;
}

/** The `--json` output of `sync restore`. */
interface RestoreOutput {
  restore: { restored: number; into: 'new' | 'existing'; target: string; same: number };
  push: { uploaded: number } | null;
  entryRemoved: boolean;
}
const restoreOutput = (stdout: string) => JSON.parse(stdout) as RestoreOutput;

/** The metadata of each object (mode, mtime) as the bucket holds it. */
async function metadataOf(bucket: string, keys: readonly string[]) {
  const out: Record<string, Record<string, string> | undefined> = {};
  for (const key of keys) out[key] = (await headObject(fixture.client, bucket, key)).Metadata;
  return out;
}

/** A tree with the shop (modes 0755 / 0600 / 0644, an old mtime) and two more workspaces. */
async function shopTree(extra: Record<string, string> = {}): Promise<TempTree> {
  const tree = await makeTree({ ...SHOP, 'api/app.py': 'print("api")\n', ...extra });
  await chmod(join(tree.workspacesDir, 'shop/bin/run.sh'), 0o755);
  await chmod(join(tree.workspacesDir, 'shop/src/private.txt'), 0o600);
  const old = new Date('2025-06-01T10:20:30.456Z');
  await utimes(join(tree.workspacesDir, 'shop/index.js'), old, old);
  return tree;
}

/** The sync's context as the CLI makes it, on the test S3 server, with a clock of the test's. */
function syncContext(
  tree: TempTree,
  bucket: string,
  clock: Clock,
  retentionMs: number,
): SyncContext {
  const raw = resolveSettings(S3_SETTINGS, { env: fixture.s3.env(bucket) });
  const logger = silentLogger();
  return {
    store: new S3ObjectStore({ config: finishS3Config(raw).config, logger }),
    state: new SyncState({
      stateDir: tree.stateDir,
      endpoint: fixture.s3.endpoint,
      bucket,
      logger,
    }),
    logger,
    workspacesDir: tree.workspacesDir,
    concurrency: 4,
    maxDelete: { kind: 'default' },
    extraExcludes: [],
    deleteMissingWorkspaces: true,
    trash: { retentionMs, entries: new TrashEntries({ reuseWithinMs: TRASH_ENTRY_REUSE_MS }) },
    clock,
    progress: noProgress,
  };
}

describe('the trash: one-shot sync and restore', () => {
  test('default: a deleted workspace directory moves to the trash; restore brings back contents, modes, mtimes and metadata', async () => {
    const tree = await shopTree();
    const bucket = fixture.s3.newBucketName();
    try {
      const env = fixture.env(tree, bucket);
      assert.equal((await runCli(['sync'], env)).code, 0);
      const before = await snapshot(tree, 'shop', SHOP_KEYS);
      const metadata = await metadataOf(bucket, SHOP_KEYS);

      await rm(join(tree.workspacesDir, 'shop'), { recursive: true });
      const dry = await runCli(['sync', '--dry-run'], env);
      assert.equal(dry.code, 0, dry.stdout + dry.stderr);
      assert.match(dry.stdout, /delete\s+shop\/index\.js\s+\(workspace directory removed\)/);
      assert.equal(
        (await workspaceKeys(fixture.client, bucket)).length,
        6,
        'a dry run moves nothing',
      );

      const res = await runCli(['sync', '--json'], env);
      assert.equal(res.code, 0, res.stdout + res.stderr);
      const summary = summaryOf(res);
      assert.equal(summary.deleted, SHOP_KEYS.length);
      assert.deepEqual(
        summary.trashed.map((t: { workspace: string; objects: number }) => [
          t.workspace,
          t.objects,
        ]),
        [['shop', SHOP_KEYS.length]],
      );
      assert.deepEqual(
        await workspaceKeys(fixture.client, bucket),
        ['api/app.py'],
        'gone from the bucket (and so from the monitor)',
      );
      assert.deepEqual(
        await trashKeys(fixture.client, bucket),
        SHOP_KEYS.map((k) => `.trash/shop/<entry>/${k.slice('shop/'.length)}`),
      );
      const entry = summary.trashed[0]?.entry ?? '';
      const inTrash = await metadataOf(
        bucket,
        SHOP_KEYS.map((k) => `.trash/shop/${entry}/${k.slice('shop/'.length)}`),
      );
      assert.deepEqual(
        Object.values(inTrash),
        Object.values(metadata),
        'the trash keeps the metadata',
      );
      const human = await runCli(['sync'], env);
      assert.equal(human.code, 0);
      assert.doesNotMatch(human.stdout, /trashed/, 'nothing more to move');

      const listed = await runCli(['sync', 'trash', '--json'], env);
      assert.equal(listed.code, 0, listed.stderr);
      const trash = JSON.parse(listed.stdout) as {
        entries: {
          workspace: string;
          entry: string;
          files: number;
          bytes: number;
          expiresAt: string;
          restore: string;
        }[];
      };
      assert.equal(trash.entries.length, 1);
      assert.equal(trash.entries[0]?.entry, entry);
      assert.equal(trash.entries[0]?.files, SHOP_KEYS.length);
      assert.equal(
        Date.parse(trash.entries[0]?.expiresAt ?? '') -
          Date.parse(entry.replace(/T(\d\d)-(\d\d)-(\d\d)/, 'T$1:$2:$3')),
        7 * 86_400_000,
        'kept 7 days by default',
      );
      assert.equal(trash.entries[0]?.restore, `bucketspace sync restore shop --at ${entry}`);
      const text = await runCli(['sync', 'trash'], env);
      assert.match(text.stdout, new RegExp(`shop\\s+${entry.replace(/\./g, '\\.')}\\s+5\\s+`));

      const restored = await runCli(['sync', 'restore', 'shop', '--json'], env);
      assert.equal(restored.code, 0, restored.stdout + restored.stderr);
      const out = restoreOutput(restored.stdout);
      assert.equal(out.restore.restored, SHOP_KEYS.length);
      assert.equal(out.restore.into, 'new');
      assert.equal(out.push?.uploaded, SHOP_KEYS.length);
      assert.equal(out.entryRemoved, true);
      assert.deepEqual(
        await snapshot(tree, 'shop', SHOP_KEYS),
        before,
        'contents, modes and mtimes as before',
      );
      assert.deepEqual(await workspaceKeys(fixture.client, bucket), ['api/app.py', ...SHOP_KEYS]);
      assert.deepEqual(
        await metadataOf(bucket, SHOP_KEYS),
        metadata,
        'the objects carry the same metadata',
      );
      assert.deepEqual(
        await listKeys(fixture.client, bucket, '.trash/'),
        [],
        'the entry left the trash',
      );
      assert.deepEqual(
        (await readdir(tree.workspacesDir)).sort(),
        ['api', 'shop'],
        'no staging directory left behind',
      );
      const again = await runCli(['sync', 'restore', 'shop'], env);
      assert.equal(again.code, 2);
      assert.match(again.stderr, /the trash holds nothing of "shop" \(it is empty\)/);
    } finally {
      await tree.remove();
    }
  });

  test('restore never overwrites: into an existing workspace it adds what is missing, refuses other content; --as restores beside it', async () => {
    const tree = await shopTree();
    const bucket = fixture.s3.newBucketName();
    try {
      const env = fixture.env(tree, bucket);
      assert.equal((await runCli(['sync'], env)).code, 0);
      await rm(join(tree.workspacesDir, 'shop'), { recursive: true });
      assert.equal((await runCli(['sync'], env)).code, 0);
      // A new shop, with an index.js of its own.
      await tree.write({
        'shop/index.js': 'a new shop\n',
        'shop/package.json': SHOP['shop/package.json'],
      });

      const refused = await runCli(['sync', 'restore', 'shop'], env);
      assert.equal(refused.code, 3, refused.stdout + refused.stderr);
      assert.match(
        refused.stderr,
        /restore never overwrites: 1 files of the entry exist in shop with other content \(index\.js\)/,
      );
      assert.match(refused.stderr, /--as <name>/);
      assert.equal(
        await readFile(join(tree.workspacesDir, 'shop/index.js'), 'utf8'),
        'a new shop\n',
      );
      assert.deepEqual((await readdir(join(tree.workspacesDir, 'shop'))).sort(), [
        'index.js',
        'package.json',
      ]);
      assert.equal(
        (await trashKeys(fixture.client, bucket)).length,
        SHOP_KEYS.length,
        'the entry stays',
      );

      const beside = await runCli(['sync', 'restore', 'shop', '--as', 'shop-old', '--json'], env);
      assert.equal(beside.code, 0, beside.stdout + beside.stderr);
      assert.equal(restoreOutput(beside.stdout).restore.target, 'shop-old');
      assert.equal(
        await readFile(join(tree.workspacesDir, 'shop-old/index.js'), 'utf8'),
        SHOP['shop/index.js'],
      );
      assert.equal(
        await readFile(join(tree.workspacesDir, 'shop/index.js'), 'utf8'),
        'a new shop\n',
      );
      assert.ok((await workspaceKeys(fixture.client, bucket)).includes('shop-old/bin/run.sh'));

      // Merge: a deleted file comes back into the workspace that still exists.
      await rm(join(tree.workspacesDir, 'shop-old/bin/run.sh'));
      assert.equal((await runCli(['sync'], env)).code, 0);
      assert.deepEqual(await trashKeys(fixture.client, bucket), [
        '.trash/shop-old/<entry>/bin/run.sh',
      ]);
      const merged = await runCli(['sync', 'restore', 'shop-old', '--json'], env);
      assert.equal(merged.code, 0, merged.stdout + merged.stderr);
      const m = restoreOutput(merged.stdout);
      assert.equal(m.restore.into, 'existing');
      assert.equal(m.restore.restored, 1);
      assert.equal(
        (await stat(join(tree.workspacesDir, 'shop-old/bin/run.sh'))).mode & 0o777,
        0o755,
      );
      assert.ok((await workspaceKeys(fixture.client, bucket)).includes('shop-old/bin/run.sh'));

      // In the bucket but not here (another machine's workspace): pull first.
      const nothing = await runCli(['sync', 'restore', 'api'], env);
      assert.equal(nothing.code, 2, 'nothing of api in the trash');
      assert.match(nothing.stderr, /the trash holds nothing of "api" \(it is empty\)/);
      await rm(join(tree.workspacesDir, 'api'), { recursive: true });
      await fixture.client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: '.trash/api/2026-01-01T00-00-00.000Z/old.py',
          Body: 'old',
        }),
      );
      const pullFirst = await runCli(['sync', 'restore', 'api'], env);
      assert.equal(pullFirst.code, 3, pullFirst.stderr);
      assert.match(
        pullFirst.stderr,
        /the bucket holds 1 objects of "api" but .* does not exist.*bucketspace sync pull api/,
      );
      assert.equal(await lstat(join(tree.workspacesDir, 'api')).catch(() => undefined), undefined);
    } finally {
      await tree.remove();
    }
  });

  test('retention: a full sync purges entries older than SYNC_TRASH_RETENTION and keeps younger ones; 0 means no trash', async () => {
    const tree = await makeTree({ 'app/a.txt': 'a', 'app/b.txt': 'b' });
    const bucket = fixture.s3.newBucketName();
    const put = (Key: string) =>
      fixture.client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }));
    try {
      await fixture.client.send(new CreateBucketCommand({ Bucket: bucket }));
      const day = 86_400_000;
      const entryAt = (msAgo: number) =>
        new Date(Date.now() - msAgo).toISOString().replace(/:/g, '-');
      const old = entryAt(8 * day);
      const young = entryAt(6 * day);
      await put(`.trash/gone/${old}/x.js`);
      await put(`.trash/gone/${old}/y.js`);
      await put(`.trash/gone/${young}/z.js`);
      await put('.trash/README.txt'); // not an entry: never touched
      const env = fixture.env(tree, bucket);

      const dry = await runCli(['sync', '--dry-run'], env);
      assert.match(
        dry.stdout,
        new RegExp(`purge\\s+gone/\\s+\\(trash entry ${old.replace(/\./g, '\\.')} \\(2 objects\\)`),
      );
      assert.equal((await listKeys(fixture.client, bucket, '.trash/')).length, 4);

      const res = await runCli(['sync', '--json'], env);
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual(summaryOf(res).purged, [{ workspace: 'gone', entry: old, objects: 2 }]);
      assert.deepEqual(await listKeys(fixture.client, bucket, '.trash/'), [
        '.trash/README.txt',
        `.trash/gone/${young}/z.js`,
      ]);

      // A shorter retention: the young one goes at the next sync (the retention is part of the schedule).
      const shorter = await runCli(['sync', '--json', '--trash-retention', '5d'], env);
      assert.deepEqual(summaryOf(shorter).purged, [
        { workspace: 'gone', entry: young, objects: 1 },
      ]);

      // 0: removed objects are deleted at once, nothing goes to the trash.
      await rm(join(tree.workspacesDir, 'app/b.txt'));
      const none = await runCli(
        ['sync', '--json'],
        fixture.env(tree, bucket, { SYNC_TRASH_RETENTION: '0' }),
      );
      assert.equal(summaryOf(none).deleted, 1);
      assert.deepEqual(summaryOf(none).trashed, []);
      assert.deepEqual(await listKeys(fixture.client, bucket), ['.trash/README.txt', 'app/a.txt']);
    } finally {
      await tree.remove();
    }
  });

  test("retention on the sync's clock: an entry is purged once the clock reaches its time plus SYNC_TRASH_RETENTION, not a millisecond before", async () => {
    const tree = await makeTree({ 'app/a.txt': 'a', 'app/b.txt': 'b' });
    const bucket = fixture.s3.newBucketName();
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:00.000Z'));
    const retentionMs = 7 * 86_400_000;
    const ctx = syncContext(tree, bucket, clock, retentionMs);
    const sync = async () =>
      (await pushSync(ctx, { dryRun: false, noDelete: false, force: false })).summary;
    try {
      assert.equal((await sync()).uploaded, 2);
      await rm(join(tree.workspacesDir, 'app/b.txt'));
      const removed = await sync();
      const entry = trashEntryName(new Date(clock.now()));
      assert.deepEqual(removed.trashed, [{ workspace: 'app', entry, objects: 1, bytes: 1 }]);
      assert.deepEqual(await listKeys(fixture.client, bucket, '.trash/'), [
        `.trash/app/${entry}/b.txt`,
      ]);

      clock.advance(retentionMs - 1);
      assert.deepEqual((await sync()).purged, [], 'a millisecond before: kept');
      assert.equal((await listKeys(fixture.client, bucket, '.trash/')).length, 1);

      clock.advance(1);
      assert.deepEqual((await sync()).purged, [{ workspace: 'app', entry, objects: 1 }]);
      assert.deepEqual(await listKeys(fixture.client, bucket, '.trash/'), []);
      assert.deepEqual(await listKeys(fixture.client, bucket), ['app/a.txt']);
    } finally {
      await tree.remove();
    }
  });

  test('a sync with nothing to do does not list the trash, nor one whose new entry is not due; a changed retention lists it', async () => {
    const tree = await makeTree({ 'app/a.txt': 'a', 'app/b.txt': 'b' });
    const bucket = fixture.s3.newBucketName();
    const proxy = await startCountingProxy(() => fixture.s3.endpoint);
    const trashListings = () =>
      proxy.requests.filter((r) => r.url.includes('list-type=2') && r.url.includes('prefix=.trash'))
        .length;
    try {
      const env = fixture.env(tree, bucket, { S3_ENDPOINT: proxy.url });
      assert.equal((await runCli(['sync'], env)).code, 0);
      assert.equal(trashListings(), 1, 'the first sync (no record yet) looks');
      proxy.reset();
      assert.equal((await runCli(['sync'], env)).code, 0);
      assert.equal(trashListings(), 0, 'nothing due: not listed');
      await rm(join(tree.workspacesDir, 'app/b.txt'));
      assert.equal((await runCli(['sync'], env)).code, 0);
      assert.equal((await trashKeys(fixture.client, bucket)).length, 1);
      proxy.reset();
      assert.equal((await runCli(['sync'], env)).code, 0);
      assert.equal(trashListings(), 0, 'the new entry is not due yet');
      // A shorter retention makes the entry due now (when it falls due by time alone is the
      // unit test of purgeDue, on explicit times).
      const res = await runCli(['sync', '--json', '--trash-retention', '1ms'], env);
      assert.equal(trashListings(), 1);
      assert.equal(summaryOf(res).purged.length, 1);
      assert.deepEqual(await listKeys(fixture.client, bucket, '.trash/'), []);
    } finally {
      await proxy.close();
      await tree.remove();
    }
  });

  test('rails: the root emptied, or two of three workspaces gone at once: nothing removed, exit 3, how to proceed; --force moves them to the trash', async () => {
    const tree = await makeTree({ 'a/1.txt': '1', 'b/2.txt': '2', 'c/3.txt': '3' });
    const bucket = fixture.s3.newBucketName();
    try {
      const env = fixture.env(tree, bucket);
      assert.equal((await runCli(['sync'], env)).code, 0);
      await rm(join(tree.workspacesDir, 'a'), { recursive: true });
      await rm(join(tree.workspacesDir, 'b'), { recursive: true });
      const two = await runCli(['sync', '--json'], env);
      assert.equal(two.code, 3, two.stdout);
      const refusal = summaryOf(two).refusals[0];
      assert.equal(refusal?.rule, 'several-workspaces');
      assert.match(refusal?.message ?? '', /2 workspace directories disappeared at once \(a, b\)/);
      assert.match(refusal?.message ?? '', /bucketspace sync --force/);
      assert.deepEqual(await listKeys(fixture.client, bucket), ['a/1.txt', 'b/2.txt', 'c/3.txt']);
      const human = await runCli(['sync'], env);
      assert.match(human.stdout, /REFUSED .*disappeared at once/);

      await rm(join(tree.workspacesDir, 'c'), { recursive: true });
      const root = await runCli(['sync', '--json'], env);
      assert.equal(root.code, 3);
      assert.equal(summaryOf(root).refusals[0]?.rule, 'workspaces-dir');
      assert.equal((await workspaceKeys(fixture.client, bucket)).length, 3);

      await rm(tree.workspacesDir, { recursive: true });
      const gone = await runCli(['sync'], env);
      assert.equal(gone.code, 3);
      assert.match(gone.stderr, /refusing to sync.*nothing in the bucket was touched/);

      await mkdir(join(tree.workspacesDir, 'c'), { recursive: true });
      await tree.write({ 'c/3.txt': '3' });
      const forced = await runCli(['sync', '--json', '--force'], env);
      assert.equal(forced.code, 0, forced.stdout + forced.stderr);
      assert.equal(summaryOf(forced).deleted, 2);
      assert.equal(summaryOf(forced).overridden[0]?.rule, 'several-workspaces');
      assert.deepEqual(await workspaceKeys(fixture.client, bucket), ['c/3.txt']);
      assert.deepEqual(await trashKeys(fixture.client, bucket), [
        '.trash/a/<entry>/1.txt',
        '.trash/b/<entry>/2.txt',
      ]);

      // Named on the command line, a gone workspace goes even when another is gone too.
      await tree.write({ 'd/4.txt': '4', 'e/5.txt': '5' });
      assert.equal((await runCli(['sync'], env)).code, 0);
      await rm(join(tree.workspacesDir, 'd'), { recursive: true });
      await rm(join(tree.workspacesDir, 'e'), { recursive: true });
      const named = await runCli(['sync', 'workspace', 'd', '--json'], env);
      assert.equal(named.code, 0, named.stdout + named.stderr);
      assert.deepEqual(await workspaceKeys(fixture.client, bucket), ['c/3.txt', 'e/5.txt']);
    } finally {
      await tree.remove();
    }
  });

  test('pull never sees the trash; a hidden prefix is never removed as a workspace', async () => {
    const tree = await makeTree({ 'app/a.txt': 'a', 'old/b.txt': 'b' });
    const bucket = fixture.s3.newBucketName();
    try {
      const env = fixture.env(tree, bucket);
      assert.equal((await runCli(['sync'], env)).code, 0);
      await rm(join(tree.workspacesDir, 'old'), { recursive: true });
      assert.equal((await runCli(['sync'], env)).code, 0);
      await fixture.client.send(
        new CopyObjectCommand({
          Bucket: bucket,
          CopySource: `${bucket}/app/a.txt`,
          Key: '.hidden/a.txt',
        }),
      );
      const again = await runCli(['sync', '--json'], env);
      assert.equal(summaryOf(again).deleted, 0, 'a hidden prefix is not a workspace');
      assert.ok((await listKeys(fixture.client, bucket)).includes('.hidden/a.txt'));

      const fresh = await makeTree();
      try {
        const pull = await runCli(['sync', 'pull', '--json'], fixture.env(fresh, bucket));
        assert.equal(pull.code, 0, pull.stderr);
        const summary = summaryOf(pull);
        assert.equal(summary.downloaded, 1);
        assert.equal(
          summary.skips.filter((s: { path: string }) => s.path.includes('b.txt')).length,
          0,
          'the trash is not named as unsafe keys',
        );
        assert.deepEqual((await readdir(fresh.workspacesDir)).sort(), ['app']);
      } finally {
        await fresh.remove();
      }
    } finally {
      await tree.remove();
    }
  });
});

describe('the trash: sync watch', () => {
  test('a workspace directory removed while watching moves to the trash as one entry; two removed at once are refused; restore while watching', async () => {
    const tree = await shopTree({ 'blog/index.html': '<h1>blog</h1>', 'docs/index.html': 'docs' });
    const bucket = fixture.s3.newBucketName();
    const env = fixture.env(tree, bucket);
    const watch = await startWatch(env);
    try {
      assert.equal((await workspaceKeys(fixture.client, bucket)).length, 8);
      // Files first, then the directory (a slow rm -rf): one entry holds them all.
      await rm(join(tree.workspacesDir, 'shop/index.js'));
      await eventually('index.js moved to the trash', async () =>
        (await trashKeys(fixture.client, bucket)).includes('.trash/shop/<entry>/index.js'),
      );
      await rm(join(tree.workspacesDir, 'shop'), { recursive: true });
      await eventually('shop left the bucket', async () =>
        (await workspaceKeys(fixture.client, bucket)).every((k) => !k.startsWith('shop/')),
      );
      const keys = await listKeys(fixture.client, bucket, '.trash/shop/');
      assert.deepEqual(
        await trashKeys(fixture.client, bucket),
        SHOP_KEYS.map((k) => `.trash/shop/<entry>/${k.slice('shop/'.length)}`),
      );
      assert.equal(new Set(keys.map((k) => k.split('/')[2])).size, 1, 'one entry');
      await watch.waitForLog(
        (l) =>
          typeof l.msg === 'string' &&
          l.msg.startsWith('moved to the trash; restore: bucketspace sync restore shop'),
      );

      // Two at once: refused, kept, and said so.
      await Promise.all(
        ['blog', 'docs'].map((ws) => rm(join(tree.workspacesDir, ws), { recursive: true })),
      );
      const refused = await watch.waitForLog((l) => l.rule === 'several-workspaces');
      assert.match(
        String(refused.msg),
        /2 workspace directories disappeared at once \(blog, docs\)/,
      );
      assert.deepEqual(
        (await workspaceKeys(fixture.client, bucket)).filter((k) => !k.startsWith('api/')),
        ['blog/index.html', 'docs/index.html'],
      );

      // Restore while the watch holds the bucket: files come back here, the watch uploads them.
      const restored = await runCli(['sync', 'restore', 'shop'], env);
      assert.equal(restored.code, 0, restored.stdout + restored.stderr);
      assert.match(restored.stdout, /restored 5 files .* into .*shop/);
      assert.match(
        restored.stdout,
        /not uploaded here: `sync watch` \(pid \d+ on .*\) holds the bucket/,
      );
      await eventually(
        'the watch uploads the restored workspace',
        async () =>
          (await workspaceKeys(fixture.client, bucket)).filter((k) => k.startsWith('shop/'))
            .length === SHOP_KEYS.length,
      );
      assert.equal(
        await readObject(fixture.client, bucket, 'shop/index.js'),
        SHOP['shop/index.js'],
      );
      assert.deepEqual(await listKeys(fixture.client, bucket, '.trash/shop/'), []);
    } finally {
      const stopped = await watch.stop();
      assert.equal(stopped.code, 0);
      await tree.remove();
    }
  });
});
