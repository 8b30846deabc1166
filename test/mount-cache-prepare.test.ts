// images/mount-rclone/prepare-cache.sh, run as the mount image runs it before
// `rclone mount`, on a cache laid out as rclone lays it out (vfs/ with the
// data, vfsMeta/ with one JSON per item, "Dirty": true while it waits for
// upload). Regression: a cache left by another variant was served after a
// switch (old bytes cut to the new size), and in `writes` mode rclone would
// upload an old unuploaded edit over a newer object.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../images/mount-rclone/prepare-cache.sh', import.meta.url));
const REMOTE = ':s3{abc12}';
const RO = 'remote=:s3:workspaces endpoint=http://minio:9000 read-only=true';
const RW = 'remote=:s3:workspaces endpoint=http://minio:9000 read-only=false';

function prepare(cache: string, identity: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'sh',
      [SCRIPT, identity],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', RCLONE_CACHE_DIR: cache } },
      (err, _stdout, stderr) => (err ? reject(new Error(stderr, { cause: err })) : resolve(stderr)),
    );
  });
}

/** One cached item: its data and its metadata, as rclone writes them. */
async function item(cache: string, path: string, body: string, dirty: boolean): Promise<void> {
  const data = join(cache, 'vfs', REMOTE, 'workspaces', path);
  const meta = join(cache, 'vfsMeta', REMOTE, 'workspaces', path);
  await mkdir(join(data, '..'), { recursive: true });
  await mkdir(join(meta, '..'), { recursive: true });
  await writeFile(data, body);
  await writeFile(
    meta,
    JSON.stringify(
      { ModTime: '2026-11-29T18:38:02Z', Size: body.length, Fingerprint: 'x', Dirty: dirty },
      null,
      '\t',
    ),
  );
}

async function withCache(fn: (cache: string) => Promise<void>): Promise<void> {
  const cache = await mkdtemp(join(tmpdir(), 'bucketspace-cache-'));
  try {
    await fn(cache);
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
}

test('a cache with nothing waiting for upload is emptied, whoever left it', async () => {
  await withCache(async (cache) => {
    await writeFile(join(cache, 'bucketspace-cache-owner'), `${RW}\n`);
    await item(cache, 'shop/server.js', 'old bytes of a full cache', false);
    const log = await prepare(cache, RO);
    assert.match(log, /emptying the VFS cache/);
    assert.deepEqual((await readdir(cache)).sort(), ['bucketspace-cache-owner']);
    assert.equal(await readFile(join(cache, 'bucketspace-cache-owner'), 'utf8'), `${RO}\n`);
  });
});

test('unuploaded edits of the same configuration are kept for rclone to upload', async () => {
  await withCache(async (cache) => {
    await prepare(cache, RW);
    await item(cache, 'shop/server.js', 'an edit that waits', true);
    await item(cache, 'shop/package.json', '{}', false);
    const log = await prepare(cache, RW);
    assert.match(log, /keeping 1 items written through this mount/);
    assert.equal(
      await readFile(join(cache, 'vfs', REMOTE, 'workspaces', 'shop/server.js'), 'utf8'),
      'an edit that waits',
    );
  });
});

test("another configuration's unuploaded edits are set aside and listed, never uploaded", async () => {
  await withCache(async (cache) => {
    await prepare(cache, RW);
    await item(cache, 'shop/server.js', 'an edit from the direct mount', true);
    await item(cache, 'blog/index.html', 'cached page', false);
    const log = await prepare(cache, RO);
    assert.match(log, /never uploaded/);
    assert.match(log, /workspaces\/shop\/server\.js/);
    assert.doesNotMatch(log, /blog\/index\.html/, 'only the unuploaded files are listed');
    assert.deepEqual((await readdir(cache)).sort(), ['bucketspace-cache-owner', 'set-aside']);
    const [aside] = await readdir(join(cache, 'set-aside'));
    const kept = join(cache, 'set-aside', aside!, 'vfs', REMOTE, 'workspaces', 'shop/server.js');
    assert.equal(await readFile(kept, 'utf8'), 'an edit from the direct mount');
    assert.equal(
      await readFile(join(cache, 'set-aside', aside!, 'owner'), 'utf8'),
      `${RW}\n`,
      'says which configuration wrote them',
    );
    // Going back to that configuration does not bring them back into the cache.
    await prepare(cache, RW);
    assert.deepEqual((await readdir(cache)).sort(), ['bucketspace-cache-owner', 'set-aside']);
  });
});
