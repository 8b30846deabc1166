// The mirror library (bucketspace/mirror) against a real S3 API: s3rver, or S3_TEST_ENDPOINT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  isBucketspaceError,
  mirror,
  withMirror,
  type MirrorEvent,
} from '../services/mirror/index.ts';
import { silentLogger } from '../services/common/logger.ts';
import type { ObjectInfo } from '../services/common/s3/object-store.ts';
import { parseLocation, type S3Location } from '../services/mirror/location.ts';
import { BucketStores, type MirrorContext } from '../services/mirror/mirror-context.ts';
import { mirrorDownload } from '../services/mirror/mirror-download.ts';
import { resolveMirrorSettings } from '../services/mirror/mirror-settings.ts';
import { noProgress } from '../services/sync/progress.ts';
import pLimit from 'p-limit';
import { ManualClock } from './support/manual-clock.ts';
import { reports, withMirrorSandbox, type MirrorSandbox } from './support/mirror-fixture.ts';
import { useTestS3 } from './support/s3-fixture.ts';
import { eventually } from './support/watch-process.ts';

const fixture = useTestS3();

const withSandbox = (fn: (box: MirrorSandbox) => Promise<void>) => withMirrorSandbox(fixture, fn);

async function rejection(
  promise: Promise<unknown>,
): Promise<Error & { code?: string; details?: Record<string, unknown> }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { code?: string };
  }
  return assert.fail('expected a rejection');
}

/** Poll until a condition the test can see holds. */
const until = (what: string, check: () => boolean) =>
  eventually(what, () => Promise.resolve(check()), 60_000);

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

const transferredFiles = (events: readonly MirrorEvent[]) =>
  events.flatMap((e) => (e.type === 'file' && e.action === 'transferred' ? [e.path] : []));

test('download: a prefix lands in <cacheRoot>/<bucket>/<key> matching S3; local extras are deleted; an unchanged download moves nothing', async () => {
  await withSandbox(async (box) => {
    await box.put({
      'data/a.txt': 'alpha',
      'data/sub/b.txt': 'beta',
      'data-2/not-mine.txt': 'x',
      'other/c.txt': 'gamma',
    });
    await using m = await mirror(box.options());
    const url = `s3://${box.bucket}/data`;
    const local = await m.download(url);
    assert.equal(local, join(box.cacheRoot, box.bucket, 'data'));
    assert.deepEqual(await box.tree(local), { 'a.txt': 'alpha', 'sub/b.txt': 'beta' });

    await box.write(local, { 'extra.txt': 'not in S3' });
    box.events.length = 0;
    assert.equal(await m.download(url), local);
    assert.deepEqual(await box.tree(local), { 'a.txt': 'alpha', 'sub/b.txt': 'beta' });
    const [second] = reports(box.events);
    assert.equal(second?.deleted, 1);
    assert.equal(second?.transferred, 0);
    assert.equal(second?.unchanged, 2);

    await box.write(local, { 'kept.txt': 'mine' });
    await m.download(url, { delete: false });
    assert.equal(await readFile(join(local, 'kept.txt'), 'utf8'), 'mine', 'delete: false keeps it');
  });
});

test('download: a listing of several pages (1,000 keys each) is planned page by page, as one', async () => {
  await withSandbox(async (box) => {
    // 1,203 objects: two pages and a part; the excluded ones on the second page.
    const objects: Record<string, string> = {};
    for (let i = 0; i < 1200; i++) objects[`data/f${String(i).padStart(4, '0')}.txt`] = `file ${i}`;
    for (const name of ['f1500.tmp', 'f1501.tmp', 'f1502.tmp']) objects[`data/${name}`] = 'temp';
    await box.put(objects);
    await using m = await mirror(box.options());
    const url = `s3://${box.bucket}/data`;
    const local = join(box.cacheRoot, box.bucket, 'data');
    await box.write(local, { 'f0000.txt': 'file 0', 'f1100.txt': 'edited', 'zz-extra.txt': 'x' });

    await m.download(url, { exclude: ['*.tmp'] });
    const tree = await box.tree(local);
    assert.equal(Object.keys(tree).length, 1200);
    assert.equal(tree['f1100.txt'], 'file 1100', 'the edit on the second page is undone');
    assert.equal(tree['f1199.txt'], 'file 1199');
    assert.equal(tree['zz-extra.txt'], undefined, 'what S3 lacks is deleted');
    const [first] = reports(box.events);
    assert.equal(first?.transferred, 1199, 'all but the file already the same');
    assert.equal(first?.unchanged, 1);
    assert.equal(first?.deleted, 1);
    assert.deepEqual(
      first?.skips.map((s) => [s.path, s.reason]),
      ['f1500.tmp', 'f1501.tmp', 'f1502.tmp'].map((p) => [p, 'excluded']),
    );

    box.events.length = 0;
    await m.download(url, { exclude: ['*.tmp'] });
    const [again] = reports(box.events);
    assert.equal(again?.transferred, 0);
    assert.equal(again?.unchanged, 1200);
    assert.equal(again?.deleted, 0);
  });
});

test('download: pages that come before the local walk ends wait for it; later pages are planned as they come', async () => {
  await withSandbox(async (box) => {
    const objects: Record<string, string> = {};
    for (let i = 0; i < 1100; i++) objects[`d/f${String(i).padStart(4, '0')}.txt`] = `file ${i}`;
    await box.put(objects);
    const url = `s3://${box.bucket}/d`;
    const local = join(box.cacheRoot, box.bucket, 'd');
    {
      await using m = await mirror(box.options());
      await m.download(url);
    }
    const settings = resolveMirrorSettings({
      env: box.env(),
      mirror: { cacheRoot: box.cacheRoot },
    });
    const logger = silentLogger();
    const buckets = new BucketStores(settings, logger);
    const ctx: MirrorContext = {
      settings,
      logger,
      buckets,
      slots: pLimit(4),
      progress: () => noProgress,
      emit: () => undefined,
    };
    const location = parseLocation(url) as S3Location;
    const target = { location, local, exclude: [] };
    try {
      const { store } = buckets.get(box.bucket);
      const listed: ObjectInfo[][] = [];
      for await (const page of store.listPages('d/')) listed.push(page);
      assert.equal(listed.length, 2);
      // Pages handed over at once (in microtasks, before the walk's first directory is read),
      // then pages handed over slowly (each after the walk has ended).
      const schedules: Record<string, (page: ObjectInfo[]) => Promise<ObjectInfo[]>> = {
        'at once': (page) => Promise.resolve(page),
        slowly: (page) => new Promise((resolve) => setTimeout(() => resolve(page), 300)),
      };
      for (const [name, schedule] of Object.entries(schedules)) {
        await rm(join(local, 'f0005.txt'));
        await rm(join(local, 'f1050.txt'));
        await box.write(local, { 'f0999.txt': 'edited', 'zz-extra.txt': 'not in S3' });
        const listing = (async function* () {
          for (const page of listed) yield await schedule(page);
        })();
        const report = await mirrorDownload(ctx, target, {
          delete: true,
          force: false,
          signal: undefined,
          progress: noProgress,
          listing,
        });
        assert.equal(report.transferred, 3, `${name}: two missing files and the edited one`);
        assert.equal(report.unchanged, 1097, name);
        assert.equal(report.deleted, 1, name);
        const tree = await box.tree(local);
        assert.equal(Object.keys(tree).length, 1100, name);
        assert.equal(tree['f0999.txt'], 'file 999', name);
        assert.equal(tree['f1050.txt'], 'file 1050', name);
      }
    } finally {
      buckets.destroy();
    }
  });
});

test('download: a single object is a file; `local` puts it elsewhere; a local path passes through, nothing copied', async () => {
  await withSandbox(async (box) => {
    await box.put({ 'models/v1/model.bin': 'weights' });
    await using m = await mirror(box.options());
    const file = await m.download(`s3://${box.bucket}/models/v1/model.bin`);
    assert.equal(file, join(box.cacheRoot, box.bucket, 'models', 'v1', 'model.bin'));
    assert.equal(await readFile(file, 'utf8'), 'weights');

    const elsewhere = join(box.dir, 'mine', 'm.bin');
    assert.equal(
      await m.download(`s3://${box.bucket}/models/v1/model.bin`, { local: elsewhere }),
      elsewhere,
    );
    assert.equal(await readFile(elsewhere, 'utf8'), 'weights');
    const dirLocal = join(box.dir, 'data-here');
    await box.put({ 'ds/x.csv': '1,2' });
    assert.equal(await m.download(`s3://${box.bucket}/ds`, { local: dirLocal }), dirLocal);
    assert.deepEqual(await box.tree(dirLocal), { 'x.csv': '1,2' });

    const passThrough = join(box.dir, 'not-there', 'data');
    assert.equal(await m.download(passThrough), passThrough);
    assert.equal(await m.upload(passThrough), passThrough);
    assert.equal(await m.sync('relative/dir'), 'relative/dir');
    assert.equal(await exists(passThrough), false, 'nothing created for a local path');
  });
});

test('same-size edits are caught both ways, even with the old mtime put back', async () => {
  await withSandbox(async (box) => {
    await box.put({ 'ds/a.txt': 'AAAA', 'ds/b.txt': 'BBBB' });
    const url = `s3://${box.bucket}/ds`;
    const local = await withMirror(box.options(), (m) => m.download(url));
    const a = join(local, 'a.txt');
    const before = await stat(a);
    await writeFile(a, 'XXXX');
    await utimes(a, before.atime, before.mtime);
    box.events.length = 0;
    await withMirror(box.options(), (m) => m.download(url));
    assert.equal(await readFile(a, 'utf8'), 'AAAA', 'the local edit is replaced by S3');
    assert.deepEqual(transferredFiles(box.events), [a]);

    await withMirror(box.options(), async (m) => {
      await m.upload(url, { interval: null });
      const b = join(local, 'b.txt');
      const bStat = await stat(b);
      await writeFile(b, 'YYYY');
      await utimes(b, bStat.atime, bStat.mtime);
      box.events.length = 0;
    });
    assert.equal(await box.read('ds/b.txt'), 'YYYY', 'the same-size edit went up');
    assert.deepEqual(transferredFiles(box.events), [join(local, 'b.txt')], 'and nothing else');
  });
});

test('exclude: gitignore-style patterns, left alone on both sides', async () => {
  await withSandbox(async (box) => {
    await box.put({
      'ds/keep.txt': 'k',
      'ds/skip.tmp': 'remote tmp',
      'ds/logs/x.log': 'log',
      'ds/deep/keep.md': 'md',
    });
    const url = `s3://${box.bucket}/ds`;
    await withMirror(box.options(), async (m) => {
      const exclude = ['*.tmp', 'logs/'];
      const local = await m.download(url, { exclude });
      assert.deepEqual(await box.tree(local), { 'deep/keep.md': 'md', 'keep.txt': 'k' });
      const [report] = reports(box.events);
      assert.deepEqual(report?.skips.map((s) => [s.path, s.reason]).sort(), [
        ['logs/x.log', 'excluded'],
        ['skip.tmp', 'excluded'],
      ]);
      await box.write(local, { 'local.tmp': 'scratch' });
      await m.download(url, { exclude });
      assert.equal(
        await exists(join(local, 'local.tmp')),
        true,
        'an excluded local file is never deleted',
      );
      await box.write(local, { 'new.txt': 'n' });
      await m.upload(url, { exclude, interval: null });
    });
    assert.deepEqual(await box.keys('ds/'), [
      'ds/deep/keep.md',
      'ds/keep.txt',
      'ds/logs/x.log',
      'ds/new.txt',
      'ds/skip.tmp',
    ]);
    assert.equal(
      await box.read('ds/skip.tmp'),
      'remote tmp',
      'an excluded object is never deleted or replaced',
    );
  });
});

test('upload: a registered path goes up on its interval (never overlapping) and once more on close; objects it lacks are deleted', async () => {
  await withSandbox(async (box) => {
    await box.put({ 'logs/old.txt': 'stale' });
    const clock = new ManualClock();
    const m = await mirror(box.options({ clock }));
    const logs = await m.upload(`s3://${box.bucket}/logs`, { interval: '30s' });
    assert.equal(logs, join(box.cacheRoot, box.bucket, 'logs'));
    assert.equal((await stat(logs)).isDirectory(), true, 'the directory is created');
    await box.write(logs, { '1.txt': 'one' });
    clock.advance(29_999);
    assert.deepEqual(await box.keys('logs/'), ['logs/old.txt'], 'nothing before the interval');
    clock.advance(1);
    await until('the first background upload', () => reports(box.events).length === 1);
    assert.deepEqual(await box.keys('logs/'), ['logs/1.txt']);
    assert.equal(reports(box.events)[0]?.background, true);

    await box.write(logs, { '2.txt': 'two' });
    await m.close();
    assert.deepEqual(await box.keys('logs/'), ['logs/1.txt', 'logs/2.txt']);
    const last = reports(box.events).at(-1);
    assert.equal(last?.background, false, 'the last upload is the close');
    assert.equal(last?.transferred, 1);
    assert.deepEqual(clock.pending(), [], 'no timer left behind');
  });
});

test('sync: downloads, then uploads; deleteLocal and deleteRemote apart', async () => {
  await withSandbox(async (box) => {
    await box.put({ 'ckpt/step-1': 's1', 'ckpt/step-2': 's2' });
    const url = `s3://${box.bucket}/ckpt`;
    const local = join(box.dir, 'ckpt');
    await box.write(local, { junk: 'stale local' });
    await withMirror(box.options(), async (m) => {
      assert.equal(await m.sync(url, { local, deleteRemote: false, interval: null }), local);
      assert.deepEqual(
        await box.tree(local),
        { 'step-1': 's1', 'step-2': 's2' },
        'deleteLocal by default',
      );
      await rm(join(local, 'step-1'));
      await box.write(local, { 'step-3': 's3' });
    });
    assert.deepEqual(
      await box.keys('ckpt/'),
      ['ckpt/step-1', 'ckpt/step-2', 'ckpt/step-3'],
      'deleteRemote: false keeps history',
    );

    await box.write(local, { junk: 'stale local' });
    await withMirror(box.options(), async (m) => {
      await m.sync(url, { local, deleteLocal: false, interval: null });
      assert.equal(await exists(join(local, 'junk')), true, 'deleteLocal: false keeps it');
      assert.equal(
        await exists(join(local, 'step-1')),
        true,
        'and the download brought step-1 back',
      );
      await rm(join(local, 'step-2'));
    });
    assert.deepEqual(
      await box.keys('ckpt/'),
      ['ckpt/junk', 'ckpt/step-1', 'ckpt/step-3'],
      'deleteRemote by default',
    );
  });
});

test('syncOnError: when the body throws, only paths registered with it are uploaded, and the error is rethrown', async () => {
  await withSandbox(async (box) => {
    const failure = new Error('training diverged');
    const err = await rejection(
      withMirror(box.options(), async (m) => {
        const plain = await m.upload(`s3://${box.bucket}/plain`, { interval: null });
        const kept = await m.upload(`s3://${box.bucket}/kept`, {
          interval: null,
          syncOnError: true,
        });
        await box.write(plain, { 'p.txt': 'p' });
        await box.write(kept, { 'k.txt': 'k' });
        throw failure;
      }),
    );
    assert.equal(err, failure);
    assert.deepEqual(await box.keys(), ['kept/k.txt']);

    const value = await withMirror(box.options(), async (m) => {
      await m.upload(`s3://${box.bucket}/plain`, { interval: null });
      return 42;
    });
    assert.equal(value, 42);
    assert.deepEqual(
      await box.keys(),
      ['kept/k.txt', 'plain/p.txt'],
      'without an error every path goes up',
    );
  });
});

test('await using: leaving the scope uploads every registered path, an exception or not (it cannot see one)', async () => {
  await withSandbox(async (box) => {
    const thrown = new Error('body failed');
    try {
      await using m = await mirror(box.options());
      const out = await m.upload(`s3://${box.bucket}/out`, { interval: null });
      await box.write(out, { 'o.txt': 'o' });
      throw thrown;
    } catch (err) {
      assert.equal(err, thrown);
    }
    assert.deepEqual(await box.keys(), ['out/o.txt']);

    const m = await mirror(box.options());
    const out = await m.upload(`s3://${box.bucket}/out2`, { interval: null });
    await box.write(out, { 'o.txt': 'o' });
    await m.close({ error: thrown });
    assert.deepEqual(
      await box.keys(),
      ['out/o.txt'],
      'close({ error }) skips it, as withMirror does',
    );
  });
});

test('a closed mirror refuses every call with MIRROR_CLOSED', async () => {
  await withSandbox(async (box) => {
    const m = await mirror(box.options());
    await m.close();
    await m.close();
    assert.equal(m.closed, true);
    for (const call of [
      () => m.download(`s3://${box.bucket}/x`),
      () => m.upload(`s3://${box.bucket}/x`),
      () => m.sync(`s3://${box.bucket}/x`),
      () => m.ls(`s3://${box.bucket}/x`),
    ]) {
      const err = await rejection(call());
      assert.ok(isBucketspaceError(err, 'MIRROR_CLOSED'), String(err));
      assert.match(err.message, /after the mirror was closed/);
    }
  });
});

test('rails: nothing in S3 never empties a local path, most of a prefix is never deleted, an empty directory deletes nothing — unless forced', async () => {
  await withSandbox(async (box) => {
    const local = join(box.dir, 'precious');
    await box.write(local, { 'a.txt': 'a', 'b.txt': 'b' });
    await withMirror(box.options(), async (m) => {
      const err = await rejection(m.download(`s3://${box.bucket}/nothing-here`, { local }));
      assert.ok(isBucketspaceError(err, 'SAFETY_REFUSED'), String(err));
      assert.equal(err.details?.rule, 'remote-empty');
      assert.match(err.message, /nothing deleted.*force/);
      assert.deepEqual(await box.tree(local), { 'a.txt': 'a', 'b.txt': 'b' });
      await m.download(`s3://${box.bucket}/nothing-here`, { local, force: true });
      assert.deepEqual(await box.tree(local), {});
    });

    const many = Object.fromEntries(
      Array.from({ length: 20 }, (_, i) => [`big/f${i}.txt`, `${i}`]),
    );
    await box.put(many);
    const err = await rejection(
      withMirror(box.options(), async (m) => {
        const big = await m.download(`s3://${box.bucket}/big`);
        for (let i = 0; i < 15; i++) await rm(join(big, `f${i}.txt`));
        await box.write(big, { 'new.txt': 'n' });
        await m.upload(`s3://${box.bucket}/big`, { interval: null });
      }),
    );
    assert.ok(isBucketspaceError(err, 'SAFETY_REFUSED'), String(err));
    assert.equal(err.details?.rule, 'max-delete');
    assert.equal((await box.keys('big/')).length, 21, 'nothing deleted, the new file uploaded');

    await withMirror(box.options(), (m) =>
      m.upload(`s3://${box.bucket}/big`, { interval: null, force: true }),
    );
    assert.equal((await box.keys('big/')).length, 6);

    const empty = join(box.dir, 'empty');
    await mkdir(empty);
    const emptyErr = await rejection(
      withMirror(box.options(), (m) =>
        m.upload(`s3://${box.bucket}/big`, { local: empty, interval: null }),
      ),
    );
    assert.equal(emptyErr.details?.rule, 'workspace-dir');
    assert.equal((await box.keys('big/')).length, 6);
  });
});

test('a bad URL, a missing bucket and wrong credentials each fail with a clear code', async () => {
  await withSandbox(async (box) => {
    await withMirror(box.options(), async (m) => {
      for (const url of ['gs://bucket/x', 's3://Not_A_Bucket/x', 's3://', 's3://bucket/a/../b']) {
        const err = await rejection(m.download(url));
        assert.ok(isBucketspaceError(err, 'INVALID_INPUT'), `${url}: ${String(err)}`);
      }
      const missing = `s3://${fixture.s3.newBucketName()}`;
      for (const call of [
        () => m.download(`${missing}/data`),
        () => m.ls(`${missing}/data`),
        () => m.download(`${missing}/model.bin`),
      ]) {
        const err = await rejection(call());
        assert.ok(isBucketspaceError(err, 'S3_NO_SUCH_BUCKET'), String(err));
      }
      const out = join(box.dir, 'out.bin');
      await writeFile(out, 'x');
      const uploadMissing = await mirror(box.options());
      await uploadMissing.upload(`${missing}/dir`, { interval: null });
      await uploadMissing.upload(`${missing}/one.bin`, { local: out, interval: null });
      const closeErr = await rejection(uploadMissing.close());
      assert.ok(isBucketspaceError(closeErr, 'S3_NO_SUCH_BUCKET'), String(closeErr));
      assert.match(closeErr.message, /2 last uploads failed/);
    });
    const wrong = box.options({
      s3: { accessKeyId: 'NOT-A-KEY', secretAccessKey: 'not-the-secret' },
    });
    await box.put({ 'data/a.txt': 'a' });
    await withMirror(wrong, async (m) => {
      for (const call of [
        () => m.download(`s3://${box.bucket}/data`),
        () => m.ls(`s3://${box.bucket}/data`),
      ]) {
        const err = await rejection(call());
        assert.ok(isBucketspaceError(err, 'S3_AUTH'), String(err));
        assert.match(err.message, /access denied/);
      }
    });
    const config = await rejection(mirror(box.options({ maxWorkers: 0, maxDelete: 'lots' })));
    assert.ok(isBucketspaceError(config, 'CONFIG_INVALID'), String(config));
    assert.match(config.message, /MIRROR_MAX_WORKERS.*at least 1/);
    assert.match(config.message, /MIRROR_MAX_DELETE.*count like 25/);
  });
});

test('maxWorkers bounds the transfers in flight', async (t) => {
  if (!fixture.s3.local) return t.skip('needs the local S3 behind a proxy');
  const { startCountingProxy } = await import('./support/counting-proxy.ts');
  let held = 0;
  let most = 0;
  const proxy = await startCountingProxy(() => fixture.s3.endpoint, {
    hold: ({ method, url }) => {
      if (method !== 'GET' || url.includes('list-type')) return undefined;
      held += 1;
      most = Math.max(most, held);
      return new Promise<void>((resolve) =>
        setTimeout(() => {
          held -= 1;
          resolve();
        }, 30),
      );
    },
  });
  try {
    await withSandbox(async (box) => {
      await box.put(
        Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`w/${i}.txt`, `${i}`])),
      );
      await withMirror(box.options({ maxWorkers: 3, s3: { endpoint: proxy.url } }), (m) =>
        m.download(`s3://${box.bucket}/w`),
      );
      assert.equal(reports(box.events)[0]?.transferred, 12);
      assert.ok(most <= 3, `at most 3 downloads at once, saw ${most}`);
      assert.ok(most >= 2, `downloads overlap (saw ${most} at once)`);
    });
  } finally {
    await proxy.close();
  }
});

test('background uploads never overlap: intervals passing during a slow run start nothing', async (t) => {
  if (!fixture.s3.local) return t.skip('needs the local S3 behind a proxy');
  const { startCountingProxy } = await import('./support/counting-proxy.ts');
  const gate: (() => void)[] = [];
  const proxy = await startCountingProxy(() => fixture.s3.endpoint, {
    hold: ({ method }) => (method === 'PUT' ? new Promise<void>((r) => gate.push(r)) : undefined),
  });
  try {
    await withSandbox(async (box) => {
      const clock = new ManualClock();
      const m = await mirror(box.options({ clock, s3: { endpoint: proxy.url } }));
      const out = await m.upload(`s3://${box.bucket}/out`, { interval: 1000 });
      await box.write(out, { 'a.txt': 'a' });
      proxy.reset();
      clock.advance(1000);
      await until('the first run holds at its PUT', () => gate.length === 1);
      clock.advance(10_000);
      assert.deepEqual(clock.pending(), [], 'no next run is even scheduled while one runs');
      await box.write(out, { 'b.txt': 'b' });
      gate.shift()?.();
      await until('the first run ends', () => reports(box.events).length === 1);
      const lists = () =>
        proxy.requests.filter((r) => r.method === 'GET' && r.url.includes('list-type'));
      assert.equal(lists().length, 1, 'one run so far: one listing');
      assert.deepEqual(clock.pending(), [1000], 'the next run is due an interval after the end');
      clock.advance(1000);
      await until('the second run holds at its PUT', () => gate.length === 1);
      assert.equal(lists().length, 2);
      gate.shift()?.();
      await until('the second run ends', () => reports(box.events).length === 2);
      await m.close();
      assert.deepEqual(await box.keys('out/'), ['out/a.txt', 'out/b.txt']);
      assert.deepEqual(
        reports(box.events).map((r) => [r.background, r.transferred]),
        [
          [true, 1],
          [true, 1],
          [false, 0],
        ],
      );
    });
  } finally {
    gate.forEach((release) => release());
    await proxy.close();
  }
});

test('an aborted signal cancels the transfers in flight, every later call, and the last upload', async (t) => {
  if (!fixture.s3.local) return t.skip('needs the local S3 behind a proxy');
  const { startCountingProxy } = await import('./support/counting-proxy.ts');
  const gate: (() => void)[] = [];
  const proxy = await startCountingProxy(() => fixture.s3.endpoint, {
    hold: ({ method, url }) =>
      method === 'GET' && !url.includes('list-type')
        ? new Promise<void>((r) => gate.push(r))
        : undefined,
  });
  try {
    await withSandbox(async (box) => {
      await box.put({ 'd/a.txt': 'a', 'd/b.txt': 'b' });
      const controller = new AbortController();
      const m = await mirror(
        box.options({ signal: controller.signal, s3: { endpoint: proxy.url } }),
      );
      const out = await m.upload(`s3://${box.bucket}/out`, { interval: null });
      await box.write(out, { 'o.txt': 'o' });
      const download = m.download(`s3://${box.bucket}/d`);
      await until('a download in flight', () => gate.length > 0);
      controller.abort(new Error('stop'));
      const err = await rejection(download);
      assert.ok(isBucketspaceError(err, 'ABORTED'), String(err));
      const later = await rejection(m.ls(`s3://${box.bucket}/d`));
      assert.ok(isBucketspaceError(later, 'ABORTED'), String(later));
      await m.close();
      assert.deepEqual(await box.keys('out/'), [], 'no last upload after an abort');
    });
  } finally {
    gate.forEach((release) => release());
    await proxy.close();
  }
});

test('events: start with the plan, each file with its bytes, end with the report', async () => {
  await withSandbox(async (box) => {
    await box.put({ 'e/a.txt': 'aaa', 'e/b/c.txt': 'cccccc' });
    await withMirror(box.options(), (m) => m.download(`s3://${box.bucket}/e`));
    const local = join(box.cacheRoot, box.bucket, 'e');
    const base = {
      operation: 'download',
      remote: `s3://${box.bucket}/e`,
      local,
      background: false,
    };
    assert.deepEqual(box.events[0], { ...base, type: 'start', files: 2, bytes: 9 });
    const files = box.events
      .filter((e) => e.type === 'file')
      .map((e) => (e.type === 'file' ? [e.object, e.path, e.bytes] : []))
      .sort();
    assert.deepEqual(files, [
      [`s3://${box.bucket}/e/a.txt`, join(local, 'a.txt'), 3],
      [`s3://${box.bucket}/e/b/c.txt`, join(local, 'b', 'c.txt'), 6],
    ]);
    const end = box.events.at(-1);
    assert.equal(end?.type, 'end');
    assert.ok(end?.type === 'end');
    assert.equal(end.report.transferred, 2);
    assert.equal(end.report.bytes, 9);
  });
});

test('ls: one level with its prefixes, every object with recursive, a single object, a local directory', async () => {
  await withSandbox(async (box) => {
    await box.put({ 'd/top.txt': 't', 'd/sub/a.txt': 'a', 'd/sub/deeper/b.txt': 'b', 'dx/y': 'y' });
    const b = `s3://${box.bucket}`;
    await withMirror(box.options(), async (m) => {
      assert.deepEqual(await m.ls(`${b}/d`), [`${b}/d/sub/`, `${b}/d/top.txt`]);
      assert.deepEqual(await m.ls(`${b}/d/`, { recursive: true }), [
        `${b}/d/sub/a.txt`,
        `${b}/d/sub/deeper/b.txt`,
        `${b}/d/top.txt`,
      ]);
      assert.deepEqual(await m.ls(`${b}/d/top.txt`), [`${b}/d/top.txt`]);
      assert.deepEqual(await m.ls(`${b}/nothing`), []);
      assert.deepEqual(await m.ls(b), [`${b}/d/`, `${b}/dx/`]);
      const local = await m.download(`${b}/d`);
      assert.deepEqual(await m.ls(local), [join(local, 'sub'), join(local, 'top.txt')]);
      assert.deepEqual(await m.ls(local, { recursive: true }), [
        join(local, 'sub', 'a.txt'),
        join(local, 'sub', 'deeper', 'b.txt'),
        join(local, 'top.txt'),
      ]);
      const missing = await rejection(m.ls(join(box.dir, 'nope')));
      assert.ok(isBucketspaceError(missing, 'LOCAL_NOT_FOUND'), String(missing));
    });
  });
});

test('keys that cannot be a local path are skipped and named, never written outside', async (t) => {
  if (!fixture.s3.local) return t.skip('needs the local S3 behind a proxy');
  const { startAliasingProxy } = await import('./support/aliasing-proxy.ts');
  await withSandbox(async (box) => {
    // s3rver folds such keys; AWS keeps them: the proxy shows stored objects under these names.
    const aliases = new Map([
      ['u/../../escaped.txt', 'u/stored-1'],
      ['u/a//b.txt', 'u/stored-2'],
      ['u/sub/./c.txt', 'u/stored-3'],
    ]);
    await box.put({
      'u/ok.txt': 'ok',
      'u/stored-1': 'hostile',
      'u/stored-2': 'hostile',
      'u/stored-3': 'hostile',
    });
    const proxy = await startAliasingProxy({
      target: () => fixture.s3.endpoint,
      client: fixture.client,
      bucket: box.bucket,
      aliases,
    });
    try {
      await withMirror(box.options({ s3: { endpoint: proxy.url } }), (m) =>
        m.download(`s3://${box.bucket}/u`),
      );
    } finally {
      await proxy.close();
    }
    assert.deepEqual((await readdir(box.cacheRoot)).sort(), ['.bucketspace-state', box.bucket]);
    assert.deepEqual(await box.tree(join(box.cacheRoot, box.bucket)), { 'u/ok.txt': 'ok' });
    const [report] = reports(box.events);
    assert.deepEqual(report?.skips.map((s) => [s.path, s.reason]).sort(), [
      ['../../escaped.txt', 'unsafe-key'],
      ['a//b.txt', 'unsafe-key'],
      ['sub/./c.txt', 'unsafe-key'],
    ]);
    assert.equal(await exists(join(box.cacheRoot, 'escaped.txt')), false);
  });
});

test('temporary files of an interrupted download are never mirrored, nor deleted', async () => {
  await withSandbox(async (box) => {
    await box.put({ 't/a.bin': createHash('sha256').update('x').digest('hex') });
    const local = join(box.cacheRoot, box.bucket, 't');
    await box.write(local, { '.0123456789ab.bucketspace-tmp': 'left by a crash' });
    await withMirror(box.options(), async (m) => {
      await m.download(`s3://${box.bucket}/t`);
      await m.upload(`s3://${box.bucket}/t`, { interval: null });
    });
    assert.deepEqual(await box.keys('t/'), ['t/a.bin']);
    assert.equal(
      await exists(join(local, '.0123456789ab.bucketspace-tmp')),
      true,
      'not deleted either: not ours to judge',
    );
  });
});
