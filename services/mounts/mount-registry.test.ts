// The registry on a real SQLite file (node:sqlite); concurrency across processes is in test/mount-concurrency.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { isBucketspaceError } from '../common/errors.ts';
import { DEFAULT_OPTIONS } from './mount-options.ts';
import { MountRegistry, type NewMount } from './mount-registry.ts';
import { SCHEMA_VERSION } from './registry-schema.ts';

async function withRegistry(fn: (path: string) => void | Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bucketspace-registry-'));
  try {
    await fn(join(dir, 'deep', 'mounts.db'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const mount = (bucket: string): NewMount => ({
  bucket,
  mountPoint: `/tmp/u/bucketspace/${bucket}`,
  engine: 'rclone',
  source: {
    kind: 's3',
    endpoint: 'http://127.0.0.1:9000',
    region: 'us-east-1',
    forcePathStyle: true,
  },
  options: { ...DEFAULT_OPTIONS, excludes: ['*.tmp'] },
  auto: true,
  ownerUid: 1000,
});

test('a new registry is created with its schema version, in WAL mode, and reopens with its data', () =>
  withRegistry((path) => {
    const reg = MountRegistry.open(path, { uid: process.getuid?.() });
    reg.transaction(() => {
      reg.insert(mount('data'));
      reg.addLink('data', { root: '/home/u/p1', path: '/home/u/p1/data' });
      reg.addLink('data', { root: '/home/u/p2', path: '/home/u/p2/data' });
      reg.setStatus('data', { state: 'running', pid: 42, healthy: true, checked: true });
    });
    reg.close();
    const db = new DatabaseSync(path);
    assert.deepEqual(
      { ...db.prepare('SELECT version FROM schema_version').get() },
      { version: SCHEMA_VERSION },
    );
    assert.equal(db.prepare('PRAGMA journal_mode').get()?.journal_mode, 'wal');
    db.close();

    const again = MountRegistry.open(path, { uid: process.getuid?.() });
    const rec = again.get('data');
    assert.ok(rec);
    assert.equal(rec.id, 'data');
    assert.equal(rec.state, 'running');
    assert.equal(rec.pid, 42);
    assert.equal(rec.healthy, true);
    assert.equal(rec.auto, true);
    assert.ok(rec.lastCheckAt !== null);
    assert.deepEqual(rec.options.excludes, ['*.tmp']);
    assert.deepEqual(rec.source, mount('data').source);
    assert.deepEqual(
      rec.links.map((l) => l.path),
      ['/home/u/p1/data', '/home/u/p2/data'],
    );
    again.close();
  }));

test('a registry from a newer bucketspace is refused, not damaged', () =>
  withRegistry((path) => {
    MountRegistry.open(path, { uid: process.getuid?.() }).close();
    const db = new DatabaseSync(path);
    db.exec(`UPDATE schema_version SET version = ${SCHEMA_VERSION + 1}`);
    db.close();
    assert.throws(
      () => MountRegistry.open(path, { uid: process.getuid?.() }),
      /newer than this bucketspace understands/,
    );
  }));

test('failures are counted, kept as the last error, and logged as events (newest first, bounded)', () =>
  withRegistry((path) => {
    const reg = MountRegistry.open(path, { uid: process.getuid?.() });
    reg.transaction(() => reg.insert(mount('data')));
    for (let i = 0; i < 120; i += 1)
      reg.transaction(() => reg.recordFailure('data', `failure ${i}`, 'error'));
    const rec = reg.get('data');
    assert.equal(rec?.failures, 120);
    assert.equal(rec?.state, 'error');
    assert.equal(rec?.lastError, 'failure 119');
    const events = reg.events('data', 1000);
    assert.equal(events.length, 100);
    assert.equal(events[0]?.message, 'failure 119');
    reg.transaction(() => reg.setStatus('data', { state: 'running' }));
    assert.equal(reg.get('data')?.lastError, null, 'running again clears the last error');
    assert.equal(reg.get('data')?.failures, 120, 'the count stays');
    reg.close();
  }));

test('a link belongs to one bucket; deleting a mount deletes its links and events', () =>
  withRegistry((path) => {
    const reg = MountRegistry.open(path, { uid: process.getuid?.() });
    reg.transaction(() => {
      reg.insert(mount('one'));
      reg.insert(mount('two'));
      reg.addLink('one', { root: '/r', path: '/r/x' });
      reg.addLink('one', { root: '/r', path: '/r/x' }); // idempotent
      reg.recordEvent('one', 'info', 'mounted');
    });
    assert.throws(
      () => reg.addLink('two', { root: '/r', path: '/r/x' }),
      (err) => isBucketspaceError(err, 'CONFLICT'),
    );
    reg.transaction(() => reg.delete('one'));
    assert.equal(reg.get('one'), undefined);
    assert.deepEqual(reg.events('one'), []);
    reg.transaction(() => reg.addLink('two', { root: '/r', path: '/r/x' }));
    assert.deepEqual(reg.get('two')?.links, [{ root: '/r', path: '/r/x' }]);
    reg.close();
  }));

test('a failed transaction leaves nothing behind', () =>
  withRegistry((path) => {
    const reg = MountRegistry.open(path, { uid: process.getuid?.() });
    assert.throws(() =>
      reg.transaction(() => {
        reg.insert(mount('data'));
        throw new Error('boom');
      }),
    );
    assert.equal(reg.get('data'), undefined);
    reg.close();
  }));

test('leases: one holder at a time; a dead holder or an expired lease loses it', () =>
  withRegistry((path) => {
    let now = 1_000;
    const reg = MountRegistry.open(path, {
      uid: process.getuid?.(),
      clock: { now: () => now, setTimeout: () => 0, clearTimeout: () => undefined },
    });
    const alive = () => true;
    assert.deepEqual(reg.tryLease('b', 'tok-a', 60_000, alive), { ok: true });
    const refused = reg.tryLease('b', 'tok-b', 60_000, alive);
    assert.equal(refused.ok, false);
    assert.ok(!refused.ok && refused.pid === process.pid);
    assert.deepEqual(
      reg.tryLease('b', 'tok-a', 60_000, alive),
      { ok: true },
      'the holder may renew',
    );
    assert.deepEqual(
      reg.tryLease('b', 'tok-b', 60_000, () => false),
      { ok: true },
      'holder process gone',
    );
    now += 60_001;
    assert.deepEqual(reg.tryLease('b', 'tok-c', 60_000, alive), { ok: true }, 'expired');
    reg.releaseLease('b', 'tok-a'); // not the holder: no effect
    assert.equal(reg.tryLease('b', 'tok-d', 60_000, alive).ok, false);
    reg.releaseLease('b', 'tok-c');
    assert.deepEqual(reg.tryLease('b', 'tok-d', 60_000, alive), { ok: true });
    reg.close();
  }));
