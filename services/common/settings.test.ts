import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isBucketspaceError } from './errors.ts';
import { bucketNameProblems } from './bucket-name.ts';
import { finishS3Config, S3_SETTINGS } from './s3/s3-settings.ts';
import { parseBytes, parseDuration, resolveSettings } from './settings.ts';

test('defaults: us-east-1, bucket "workspaces", path style follows S3_ENDPOINT', () => {
  const raw = resolveSettings(S3_SETTINGS, { env: {} });
  const { config, problems } = finishS3Config(raw);
  assert.deepEqual(problems, []);
  assert.equal(config.region, 'us-east-1');
  assert.equal(config.bucket, 'workspaces');
  assert.equal(config.forcePathStyle, false);
  assert.equal(config.credentials, undefined, 'AWS default chain');
  const withEndpoint = finishS3Config(
    resolveSettings(S3_SETTINGS, { env: { S3_ENDPOINT: 'http://minio:9000' } }),
  ).config;
  assert.equal(withEndpoint.forcePathStyle, true);
  assert.equal(withEndpoint.checksums, 'when_required');
});

test('flags override the environment', () => {
  const raw = resolveSettings(S3_SETTINGS, {
    env: { S3_BUCKET: 'from-env' },
    flags: { bucket: 'from-flag' },
  });
  assert.equal(raw.bucket, 'from-flag');
});

test('every problem is listed at once, secrets never echoed', () => {
  try {
    resolveSettings(S3_SETTINGS, {
      env: {
        S3_BUCKET: 'X',
        S3_FORCE_PATH_STYLE: 'perhaps',
        S3_MAX_ATTEMPTS: '0',
        S3_SECRET_ACCESS_KEY: '',
      },
    });
    assert.fail('should throw');
  } catch (err) {
    assert.ok(isBucketspaceError(err, 'CONFIG_INVALID'));
    const problems = err.details.problems as string[];
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.match(err.message, /S3_BUCKET \(got "X"\)/);
    assert.match(err.message, /S3_FORCE_PATH_STYLE/);
    assert.match(err.message, /S3_MAX_ATTEMPTS/);
  }
  const half = finishS3Config({
    ...resolveSettings(S3_SETTINGS, { env: { S3_ACCESS_KEY_ID: 'AKIA' } }),
  });
  assert.match(half.problems[0] ?? '', /must be set together/);
});

test('bucket names follow the S3 rules', () => {
  assert.deepEqual(bucketNameProblems('workspaces'), []);
  assert.deepEqual(bucketNameProblems('my.bucket-1'), []);
  assert.ok(bucketNameProblems('ab').length > 0);
  assert.ok(bucketNameProblems('Upper').length > 0);
  assert.ok(bucketNameProblems('192.168.1.1').length > 0);
  assert.ok(bucketNameProblems('a..b').length > 0);
  assert.ok(bucketNameProblems('-start').length > 0);
  assert.ok(bucketNameProblems('xn--abc').length > 0);
});

test('durations', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('5s'), 5000);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('7d'), 7 * 86_400_000);
  assert.equal(parseDuration('250'), 250);
  assert.equal(parseDuration('soon'), undefined);
});

test('sizes: binary units as rclone reads them; S3_UPLOAD_CUTOFF defaults to 200 MiB and stays within 5 MiB-5 GiB', () => {
  assert.equal(parseBytes('200MiB'), 200 * 1024 ** 2);
  assert.equal(parseBytes('16M'), 16 * 1024 ** 2);
  assert.equal(parseBytes('1g'), 1024 ** 3);
  assert.equal(parseBytes('512 KiB'), 512 * 1024);
  assert.equal(parseBytes('1.5Mi'), 1.5 * 1024 ** 2);
  assert.equal(parseBytes('1234'), 1234);
  assert.equal(parseBytes('12 parsecs'), undefined);
  assert.equal(parseBytes('-5M'), undefined);

  assert.equal(resolveSettings(S3_SETTINGS, { env: {} }).uploadCutoff, 200 * 1024 ** 2);
  assert.equal(
    resolveSettings(S3_SETTINGS, { env: { S3_UPLOAD_CUTOFF: '64MiB' } }).uploadCutoff,
    64 * 1024 ** 2,
  );
  for (const bad of ['1MiB', '6GiB', 'lots']) {
    try {
      resolveSettings(S3_SETTINGS, { env: { S3_UPLOAD_CUTOFF: bad } });
      assert.fail(`S3_UPLOAD_CUTOFF=${bad} accepted`);
    } catch (err) {
      assert.ok(isBucketspaceError(err, 'CONFIG_INVALID'), String(err));
      const problems = (err.details.problems as string[]).join('; ');
      assert.match(problems, /S3_UPLOAD_CUTOFF/);
      assert.match(problems, bad === 'lots' ? /a size like 200MiB/ : /from 5MiB to 5GiB/);
    }
  }
});
