import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkStack, isLoopback } from './stack-checks.ts';

const local = { MINIO_BIND: '127.0.0.1', MONITOR_BIND: '127.0.0.1' };

test("MinIO's default credentials are refused, with the three ways to fix it", () => {
  const r = checkStack({
    user: 'minioadmin',
    password: 'minioadmin',
    localOnly: false,
    binds: local,
  });
  assert.deepEqual(r.invalid, []);
  assert.equal(r.refused.length, 1);
  assert.match(r.refused[0]!, /MinIO's default credentials/);
  assert.match(r.refused[0]!, /scripts\/setup-s3-mount\.sh/);
  assert.match(r.refused[0]!, /BUCKETSPACE_LOCAL_ONLY=true/);
});

test('the .env.example placeholder and the default password with another user are refused too', () => {
  for (const [user, password] of [
    ['bucketspace', 'change-me-to-a-long-random-secret'],
    ['someone', 'minioadmin'],
  ] as const) {
    const r = checkStack({ user, password, localOnly: false, binds: local });
    assert.equal(r.refused.length, 1, `${user}/${password}`);
    assert.match(r.refused[0]!, /^MINIO_ROOT_PASSWORD is /);
  }
});

test('local-only accepts guessable credentials with a warning when every port is on loopback', () => {
  const r = checkStack({
    user: 'minioadmin',
    password: 'minioadmin',
    localOnly: true,
    binds: local,
  });
  assert.deepEqual(r.refused, []);
  assert.equal(r.warnings.length, 1);
});

test('local-only is refused when a port is published beyond loopback, naming the setting', () => {
  const r = checkStack({
    user: 'minioadmin',
    password: 'minioadmin',
    localOnly: true,
    binds: { MINIO_BIND: '127.0.0.1', MONITOR_BIND: '0.0.0.0' },
  });
  assert.equal(r.refused.length, 1);
  assert.match(r.refused[0]!, /MONITOR_BIND=0\.0\.0\.0/);
});

test('real credentials pass on any bind; short passwords and empty users are invalid', () => {
  const ok = checkStack({
    user: 'bucketspace',
    password: 'a3f9c2e1b7d84f60',
    localOnly: false,
    binds: { MINIO_BIND: '0.0.0.0', MONITOR_BIND: '0.0.0.0' },
  });
  assert.deepEqual(ok, { invalid: [], refused: [], warnings: [] });
  const bad = checkStack({ user: '', password: 'short', localOnly: false, binds: local });
  assert.equal(bad.invalid.length, 2);
  assert.match(bad.invalid.join('\n'), /MINIO_ROOT_USER is empty/);
  assert.match(bad.invalid.join('\n'), /at least 8 characters/);
});

test('loopback addresses', () => {
  for (const a of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'])
    assert.ok(isLoopback(a), a);
  for (const a of ['0.0.0.0', '192.168.1.4', '::', '']) assert.ok(!isLoopback(a), a);
});
