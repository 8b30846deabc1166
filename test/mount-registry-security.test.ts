// The mount registry against another user of the machine: a registry they could write is never
// used, and records that point outside MOUNT_DIR or at another endpoint are refused.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DatabaseSync } from 'node:sqlite';
import {
  makeSandbox,
  mountsUnder,
  seedBucket,
  type MountSandbox,
} from './support/mount-sandbox.ts';
import { runCli } from './support/run-cli.ts';
import { useTestS3 } from './support/s3-fixture.ts';
import { NOBODY, unprivilegedSkipReason } from './support/unprivileged.ts';
import { startUpstream, type Upstream } from './support/upstream.ts';

const SCHEMA = fileURLToPath(new URL('../services/mounts/registry-schema.ts', import.meta.url));

const fixture = useTestS3();
let box: MountSandbox;
let bucket: string;
let attacker: Upstream;
beforeEach(async () => {
  box = await makeSandbox(fixture);
  bucket = fixture.s3.newBucketName();
  await seedBucket(fixture.client, bucket, { 'f.txt': 'content\n' });
  // Stands in for the attacker's S3 endpoint: every request it gets is recorded.
  attacker = await startUpstream((_req, res) => {
    res.writeHead(403).end();
  });
});
afterEach(async () => {
  await attacker.close();
  await box.cleanup();
});

/** Run a script as `nobody`, the other user of the machine. */
function asNobody(script: string): void {
  const res = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    uid: NOBODY,
    gid: NOBODY,
    encoding: 'utf8',
  });
  assert.equal(res.status, 0, `as nobody: ${res.stderr}`);
}

/** The attacker's record: their mount point, their endpoint. */
function hostileRow(registry: string, attackerPath: string): string {
  return `
    import { DatabaseSync } from 'node:sqlite';
    import { migrate } from ${JSON.stringify(SCHEMA)};
    const db = new DatabaseSync(${JSON.stringify(registry)});
    db.exec('BEGIN IMMEDIATE'); migrate(db); db.exec('COMMIT');
    db.prepare(\`INSERT INTO mounts (bucket, mount_point, engine, source, options, auto, created_at, updated_at)
      VALUES (?, ?, 'rclone', ?, ?, 0, 'x', 'x')\`).run(
      ${JSON.stringify(bucket)},
      ${JSON.stringify(attackerPath)},
      JSON.stringify({ kind: 's3', endpoint: ${JSON.stringify(`http://127.0.0.1:${attacker.port}`)}, region: 'us-east-1', forcePathStyle: true }),
      JSON.stringify({ readOnly: false, cacheMode: 'writes', cacheSize: null, dirCacheMs: null, excludes: [] }),
    );
    db.close();`;
}

describe('another user and the mount registry', { skip: unprivilegedSkipReason() }, () => {
  test('regression: a registry in a directory another user can write is refused; their swapped registry is never used', async () => {
    const r = box.root('r');
    const added = await runCli(['mount', 'add', bucket, '--root', r, '--no-start'], box.env());
    assert.equal(added.code, 0, added.stderr);

    // The registry's directory is writable by everyone (as a /tmp/<user> someone else made can be).
    const stateDir = dirname(box.registry);
    await chmod(box.dir, 0o711);
    await chmod(stateDir, 0o777);
    const attackerPath = join(box.dir, 'attacker-owned');
    await mkdir(attackerPath);
    await chown(attackerPath, NOBODY, NOBODY);
    // The other user cannot write root's file, but can replace it in that directory.
    asNobody(`
      import { rmSync } from 'node:fs';
      for (const f of ['', '-wal', '-shm']) rmSync(${JSON.stringify(box.registry)} + f, { force: true });
      ${hostileRow(box.registry, attackerPath)}`);

    for (const args of [
      ['mount', 'start', bucket],
      ['mount', 'list'],
    ]) {
      const res = await runCli(args, box.env());
      assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
      assert.match(
        res.stderr,
        /refusing the mount registry \(MOUNT_REGISTRY\) in .*writable only by you|writable by other users/,
      );
      assert.match(res.stderr, new RegExp(stateDir.replaceAll('/', '\\/')));
    }
    assert.deepEqual(await mountsUnder(box.dir), [], 'nothing mounted, least of all at their path');
    assert.deepEqual(await readdir(attackerPath), []);
    assert.equal(attacker.seen.length, 0, 'no signed request reached their endpoint');
  });

  test('regression: a registry below a directory another user made first (/tmp/<user> in a SLURM job) is refused', async () => {
    await chmod(box.dir, 0o711);
    const theirs = join(box.dir, 'tmp-user');
    await mkdir(theirs, { mode: 0o755 });
    await chown(theirs, NOBODY, NOBODY);
    const env = box.env({ MOUNT_REGISTRY: join(theirs, 'bucketspace-state', 'mounts.db') });
    const res = await runCli(['mount', 'add', bucket, '--root', box.root('r')], env);
    assert.equal(res.code, 2, res.stderr);
    assert.match(
      res.stderr,
      new RegExp(`${theirs.replaceAll('/', '\\/')} belongs to another user \\(owner uid ${NOBODY}`),
    );
    assert.deepEqual(await mountsUnder(box.dir), []);

    // The same for the mount directory: another user's parent could swap the mount points.
    const mountDir = join(theirs, 'bucketspace');
    const res2 = await runCli(
      ['mount', 'add', bucket, '--root', box.root('r')],
      box.env({ MOUNT_DIR: mountDir }),
    );
    assert.equal(res2.code, 1, res2.stderr);
    assert.match(
      res2.stderr,
      /refusing the mount directory \(MOUNT_DIR\).*belongs to another user/,
    );
    assert.deepEqual(await mountsUnder(box.dir), []);
  });
});

describe('records the registry holds', () => {
  /** Change root's own registry behind its back (a copied or restored registry, say). */
  function edit(sql: string, ...params: (string | number | null)[]): void {
    const db = new DatabaseSync(box.registry);
    db.prepare(sql).run(...params);
    db.close();
  }

  test('regression: a recorded mount point outside MOUNT_DIR is never mounted; remove only forgets it', async () => {
    const r = box.root('r');
    assert.equal(
      (await runCli(['mount', 'add', bucket, '--root', r, '--no-start'], box.env())).code,
      0,
    );
    const elsewhere = join(box.dir, 'elsewhere');
    await mkdir(elsewhere);
    edit('UPDATE mounts SET mount_point = ? WHERE bucket = ?', elsewhere, bucket);
    const res = await runCli(['mount', 'start', bucket], box.env());
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /mount point .*elsewhere, which is not inside MOUNT_DIR/);
    assert.deepEqual(await mountsUnder(box.dir), []);
    const stop = await runCli(['mount', 'stop', bucket], box.env());
    assert.match(stop.stderr, /not inside MOUNT_DIR/, 'nothing unmounted there either');
    const removed = await runCli(['mount', 'remove', bucket], box.env());
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout + removed.stderr, /nothing unmounted or unlinked/);
    const list = await runCli(['mount', 'list', '--json'], box.env());
    assert.deepEqual(JSON.parse(list.stdout), []);
  });

  test('regression: an endpoint recorded by another user is not sent this user’s keys', async () => {
    assert.equal(
      (await runCli(['mount', 'add', bucket, '--root', box.root('r'), '--no-start'], box.env()))
        .code,
      0,
    );
    const source = JSON.stringify({
      kind: 's3',
      endpoint: `http://127.0.0.1:${attacker.port}`,
      region: 'us-east-1',
      forcePathStyle: true,
    });
    edit('UPDATE mounts SET source = ?, owner_uid = ? WHERE bucket = ?', source, NOBODY, bucket);
    const res = await runCli(['mount', 'start', bucket], box.env());
    assert.equal(res.code, 1, res.stderr);
    assert.match(
      res.stderr,
      new RegExp(`recorded by uid ${NOBODY}.*refusing to send your keys there`),
    );
    assert.equal(attacker.seen.length, 0);
    assert.deepEqual(await mountsUnder(box.dir), []);
  });
});
