import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkExternalS3, checkStack, isLoopback } from './stack-checks.ts';

const local = {
  MINIO_BIND: '127.0.0.1',
  MONITOR_BIND: '127.0.0.1',
  MONITOR_ADMIN_BIND: '127.0.0.1',
};

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

test('local-only is refused when the dashboard is published beyond loopback (MONITOR_ADMIN_BIND)', () => {
  const r = checkStack({
    user: 'minioadmin',
    password: 'minioadmin',
    localOnly: true,
    binds: { ...local, MONITOR_ADMIN_BIND: '0.0.0.0' },
  });
  assert.equal(r.refused.length, 1);
  assert.match(r.refused[0]!, /MONITOR_ADMIN_BIND=0\.0\.0\.0 publishes a port beyond this machine/);
  assert.match(r.refused[0]!, /set MONITOR_ADMIN_BIND=127\.0\.0\.1/);
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

test('your own S3: empty keys are invalid, naming both settings and the fix', () => {
  const r = checkExternalS3({ accessKeyId: undefined, secretAccessKey: '' });
  assert.deepEqual(r.refused, []);
  assert.equal(r.invalid.length, 2);
  assert.match(r.invalid[0]!, /^S3_ACCESS_KEY_ID is empty/);
  assert.match(r.invalid[1]!, /^S3_SECRET_ACCESS_KEY is empty/);
  assert.match(r.invalid[0]!, /docker-compose\.external-s3\.yml/);
});

test("your own S3: .env.example's placeholders and MinIO's defaults are refused", () => {
  const placeholders = checkExternalS3({
    accessKeyId: 'your-access-key-id',
    secretAccessKey: 'your-secret-access-key',
  });
  assert.deepEqual(placeholders.invalid, []);
  assert.equal(placeholders.refused.length, 2);
  assert.match(placeholders.refused.join('\n'), /placeholder from \.env\.example/);
  const defaults = checkExternalS3({ accessKeyId: 'minioadmin', secretAccessKey: 'minioadmin' });
  assert.equal(defaults.refused.length, 2);
  assert.match(defaults.refused[0]!, /MinIO's default credentials/);
});

test('your own S3: real keys pass', () => {
  assert.deepEqual(
    checkExternalS3({ accessKeyId: 'AKIAEXAMPLE0001', secretAccessKey: 'f3a9c2e1b7d84f60a1' }),
    { invalid: [], refused: [], warnings: [] },
  );
});
