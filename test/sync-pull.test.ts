// `bucketspace sync pull`: bucket back to local, with the same filters and rails in reverse.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { useTestS3 } from './support/s3-fixture.ts';
import { runCli, summaryOf } from './support/run-cli.ts';
import { makeTree } from './support/workspace-tree.ts';
import { startAliasingProxy } from './support/aliasing-proxy.ts';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';

const fixture = useTestS3();

async function listLocal(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe('sync pull', () => {
  test('restores a workspace onto a new machine, with modes and mtimes, and a following push is a no-op', async () => {
    const source = await makeTree({
      'app/index.js': 'console.log(1)\n',
      'app/bin/run.sh': '#!/bin/sh\necho hi\n',
      'app/.gitignore': 'tmp/\n',
      'app/src/a.js': 'a',
      'app/.env': 'SECRET=1',
    });
    await chmod(join(source.workspacesDir, 'app/bin/run.sh'), 0o755);
    const target = await makeTree();
    const bucket = fixture.s3.newBucketName();
    try {
      assert.equal((await runCli(['sync'], fixture.env(source, bucket))).code, 0);
      await rm(target.workspacesDir, { recursive: true });
      const res = await runCli(['sync', 'pull', '--json'], fixture.env(target, bucket));
      assert.equal(res.code, 0, res.stderr);
      assert.equal(summaryOf(res).downloaded, 4);
      assert.deepEqual(await listLocal(target.workspacesDir), [
        'app/.gitignore',
        'app/bin/run.sh',
        'app/index.js',
        'app/src/a.js',
      ]);
      assert.equal(
        await readFile(join(target.workspacesDir, 'app/index.js'), 'utf8'),
        'console.log(1)\n',
      );
      const mode = (await stat(join(target.workspacesDir, 'app/bin/run.sh'))).mode & 0o777;
      assert.equal(mode, 0o755, 'the executable bit comes back');
      const srcMtime = (await stat(join(source.workspacesDir, 'app/index.js'))).mtimeMs;
      const dstMtime = (await stat(join(target.workspacesDir, 'app/index.js'))).mtimeMs;
      assert.ok(Math.abs(srcMtime - dstMtime) < 2, `mtime restored (${srcMtime} vs ${dstMtime})`);
      const push = await runCli(['sync', '--json'], fixture.env(target, bucket));
      assert.equal(summaryOf(push).uploaded, 0, 'nothing to upload after a pull');
      assert.equal(summaryOf(push).deleted, 0);
    } finally {
      await source.remove();
      await target.remove();
    }
  });

  test('rollback: replaced and deleted local files are moved to the backup directory; ignored local files (.env, node_modules) are never touched', async () => {
    const tree = await makeTree({
      'app/a.js': 'v1',
      'app/b.js': 'b',
      'app/.env': 'SECRET=keep',
      'app/node_modules/x/i.js': 'dep',
    });
    const bucket = fixture.s3.newBucketName();
    try {
      const env = fixture.env(tree, bucket);
      assert.equal((await runCli(['sync'], env)).code, 0);
      await writeFile(join(tree.workspacesDir, 'app/a.js'), 'v2 local edit');
      await writeFile(join(tree.workspacesDir, 'app/c.js'), 'local only');
      const dry = await runCli(['sync', 'pull', '--dry-run'], env);
      assert.match(dry.stdout, /download\s+app\/a\.js\s+\(size differs/);
      assert.match(dry.stdout, /delete-local\s+app\/c\.js/);
      assert.equal(
        await readFile(join(tree.workspacesDir, 'app/a.js'), 'utf8'),
        'v2 local edit',
        'dry run changed nothing',
      );
      const res = await runCli(['sync', 'pull', 'app', '--json'], env);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(summaryOf(res).downloaded, 1);
      assert.equal(summaryOf(res).deleted, 1);
      assert.equal(await readFile(join(tree.workspacesDir, 'app/a.js'), 'utf8'), 'v1');
      assert.equal(await readFile(join(tree.workspacesDir, 'app/.env'), 'utf8'), 'SECRET=keep');
      assert.equal(
        await readFile(join(tree.workspacesDir, 'app/node_modules/x/i.js'), 'utf8'),
        'dep',
      );
      const backups = await listLocal(join(tree.workspacesDir, '.bucketspace-backup'));
      assert.equal(backups.length, 2);
      assert.ok(
        backups.some((p) => p.endsWith('app/a.js')) && backups.some((p) => p.endsWith('app/c.js')),
      );
      const stamp = backups[0]?.split('/')[0] ?? '';
      assert.equal(
        await readFile(join(tree.workspacesDir, '.bucketspace-backup', stamp, 'app/a.js'), 'utf8'),
        'v2 local edit',
      );
      const push = await runCli(['sync', '--json'], env);
      assert.equal(
        summaryOf(push).uploaded + summaryOf(push).deleted,
        0,
        'the backup directory is not a workspace',
      );
    } finally {
      await tree.remove();
    }
  });

  test('secrets that somehow are in the bucket are not pulled over local files', async () => {
    const tree = await makeTree({ 'app/a.js': 'a', 'app/.env': 'LOCAL=1' });
    const bucket = fixture.s3.newBucketName();
    try {
      const env = fixture.env(tree, bucket);
      assert.equal((await runCli(['sync'], env)).code, 0);
      await fixture.client.send(
        new PutObjectCommand({ Bucket: bucket, Key: 'app/.env', Body: 'REMOTE=1' }),
      );
      const res = await runCli(['sync', 'pull', '--json'], env);
      assert.equal(res.code, 0, res.stderr);
      assert.ok(
        summaryOf(res).skips.some(
          (s) => s.path === '.env' && /excluded by <defaults>/.test(s.message),
        ),
      );
      assert.equal(await readFile(join(tree.workspacesDir, 'app/.env'), 'utf8'), 'LOCAL=1');
    } finally {
      await tree.remove();
    }
  });

  test('refuses to pull a workspace that is not in the bucket (exit 3), and mass local deletes (exit 3)', async () => {
    const files = Object.fromEntries(
      Array.from({ length: 15 }, (_, i) => [`app/f${i}.txt`, `${i}`]),
    );
    const tree = await makeTree({ 'app/keep.txt': 'k' });
    const bucket = fixture.s3.newBucketName();
    try {
      const env = fixture.env(tree, bucket);
      assert.equal((await runCli(['sync'], env)).code, 0);
      const missing = await runCli(['sync', 'pull', 'ghost', '--json'], env);
      assert.equal(missing.code, 3);
      assert.match(summaryOf(missing).refusals[0]?.message ?? '', /nothing under ghost\//);
      await tree.write(files);
      const res = await runCli(['sync', 'pull', '--json'], env);
      assert.equal(res.code, 3);
      assert.equal(summaryOf(res).refusals[0]?.rule, 'max-delete');
      assert.equal((await listLocal(tree.workspacesDir)).length, 16, 'no local file deleted');
    } finally {
      await tree.remove();
    }
  });

  test('regression: pull never empties a workspace the bucket has nothing to pull into (exit 3, rule remote-empty)', async () => {
    const tree = await makeTree({ 'app/a.js': 'a', 'app/b.js': 'b', 'app/c.js': 'c' });
    const bucket = fixture.s3.newBucketName();
    try {
      const env = fixture.env(tree, bucket);
      // The bucket holds only what the filter never pulls (a stray secret).
      await fixture.client.send(new CreateBucketCommand({ Bucket: bucket }));
      await fixture.client.send(
        new PutObjectCommand({ Bucket: bucket, Key: 'app/.env', Body: 'REMOTE=1' }),
      );
      const res = await runCli(['sync', 'pull', '--json'], env);
      assert.equal(res.code, 3, res.stdout);
      const summary = summaryOf(res);
      assert.equal(summary.refusals[0]?.rule, 'remote-empty');
      assert.match(summary.refusals[0]?.message ?? '', /refusing to delete its 3 local files/);
      assert.equal(summary.deleted, 0);
      assert.deepEqual(await listLocal(tree.workspacesDir), ['app/a.js', 'app/b.js', 'app/c.js']);
    } finally {
      await tree.remove();
    }
  });

  test('regression: keys with "..", ".", empty or backslash segments never write outside WORKSPACES_DIR; modes are masked', async () => {
    const tree = await makeTree({ 'app/keep.txt': 'local' });
    const bucket = fixture.s3.newBucketName();
    // Keys any S3 may hold (AWS does; s3rver normalises them away, so a proxy shows them).
    const hostile = [
      'ws/sub/../../../escaped.txt',
      '../outside.txt',
      './dot.txt',
      'ws/../../crash.txt',
      'ws//abs.txt',
      'ws/a\\..\\..\\..\\backslash.txt',
    ];
    const aliases = new Map(hostile.map((shown, i) => [shown, `stored/hostile-${i}`]));
    await fixture.client.send(new CreateBucketCommand({ Bucket: bucket }));
    const put = (Key: string, Body: string, mode: number) =>
      fixture.client.send(
        new PutObjectCommand({ Bucket: bucket, Key, Body, Metadata: { mode: String(mode) } }),
      );
    for (const stored of aliases.values()) await put(stored, 'hostile', 0o100777);
    await put('app/keep.txt', 'local', 0o100644);
    await put('ws/run.sh', '#!/bin/sh\n', 0o106777); // setuid, setgid, world-writable
    const proxy = await startAliasingProxy({
      target: () => fixture.s3.endpoint,
      client: fixture.client,
      bucket,
      aliases,
    });
    try {
      const res = await runCli(
        ['sync', 'pull', '--json'],
        fixture.env(tree, bucket, { S3_ENDPOINT: proxy.url }),
      );
      assert.equal(res.code, 0, res.stderr + res.stdout);
      const summary = summaryOf(res);
      const unsafe = summary.skips.filter((s) => s.reason === 'unsafe-key');
      assert.equal(unsafe.length, hostile.length, JSON.stringify(summary.skips));
      for (const key of hostile)
        assert.ok(
          unsafe.some((s) => s.message.includes(JSON.stringify(key))),
          `${key} is named`,
        );
      // Nothing outside WORKSPACES_DIR, and no "." or ".." workspace written into.
      assert.deepEqual((await readdir(tree.root)).sort(), ['state', 'workspaces']);
      assert.deepEqual(await listLocal(tree.workspacesDir), ['app/keep.txt', 'ws/run.sh']);
      const mode = (await stat(join(tree.workspacesDir, 'ws/run.sh'))).mode & 0o7777;
      assert.equal(mode, 0o775, `mode ${mode.toString(8)}: no setuid, setgid or world-writable`);
      assert.ok(
        !(await readdir(tree.workspacesDir)).includes('.bucketspace-backup'),
        'nothing replaced',
      );
    } finally {
      await proxy.close();
      await tree.remove();
    }
  });

  test('regression: pull never writes through a local directory symlink (ws/ext -> /outside)', async () => {
    const tree = await makeTree({ 'ws/a.txt': 'a', 'outside/victim.txt': 'original' });
    const outside = join(tree.workspacesDir, 'outside');
    const elsewhere = join(tree.root, 'elsewhere');
    const bucket = fixture.s3.newBucketName();
    try {
      await rename(outside, elsewhere);
      await symlink(elsewhere, join(tree.workspacesDir, 'ws/ext'));
      await fixture.client.send(new CreateBucketCommand({ Bucket: bucket }));
      for (const [Key, Body] of [
        ['ws/a.txt', 'a'],
        ['ws/ext/victim.txt', 'from the bucket'],
        ['ws/ext/new/planted.txt', 'planted'],
      ] as const)
        await fixture.client.send(new PutObjectCommand({ Bucket: bucket, Key, Body }));
      const res = await runCli(['sync', 'pull', '--json'], fixture.env(tree, bucket));
      assert.equal(res.code, 1, res.stdout);
      const summary = summaryOf(res);
      assert.deepEqual(summary.failures.map((f) => [f.path, f.code]).sort(), [
        ['ext/new/planted.txt', 'SAFETY_REFUSED'],
        ['ext/victim.txt', 'SAFETY_REFUSED'],
      ]);
      assert.match(summary.failures[0]?.message ?? '', /ext is a symlink locally/);
      assert.equal(await readFile(join(elsewhere, 'victim.txt'), 'utf8'), 'original');
      assert.deepEqual(
        await readdir(elsewhere),
        ['victim.txt'],
        'nothing created through the link',
      );
    } finally {
      await tree.remove();
    }
  });
});
