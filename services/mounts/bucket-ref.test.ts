import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isBucketspaceError } from '../common/errors.ts';
import { parseBucketRef } from './bucket-ref.ts';

test('a bare name, s3:// and a trailing slash all name the bucket', () => {
  assert.equal(parseBucketRef('teamspace-lrm'), 'teamspace-lrm');
  assert.equal(parseBucketRef('s3://teamspace-lrm'), 'teamspace-lrm');
  assert.equal(parseBucketRef('S3://teamspace-lrm/'), 'teamspace-lrm');
  assert.equal(parseBucketRef('  my.bucket.1  '), 'my.bucket.1');
});

test('names breaking S3 rules are refused with every rule named', () => {
  for (const bad of [
    'ab',
    'Upper',
    'has_underscore',
    '-dash',
    'a..b',
    '192.168.1.1',
    '',
    's3://',
  ]) {
    assert.throws(
      () => parseBucketRef(bad),
      (err) => isBucketspaceError(err, 'INVALID_INPUT') && /invalid bucket name/.test(err.message),
      bad,
    );
  }
  assert.throws(
    () => parseBucketRef('A_'),
    (err) =>
      isBucketspaceError(err) &&
      err.message.includes('3 to 63') &&
      err.message.includes('lowercase letters'),
  );
});

test('a path inside a bucket is refused: one mount is one bucket', () => {
  assert.throws(
    () => parseBucketRef('s3://bucket/prefix'),
    (err) => isBucketspaceError(err, 'INVALID_INPUT') && /whole bucket/.test(err.message),
  );
});
