import { test } from 'node:test';
import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isBucketspaceError } from '../common/errors.ts';
import { cachePath, localPath, parseLocation, type S3Location } from './location.ts';

function s3(input: string): S3Location {
  const location = parseLocation(input);
  assert.equal(location.kind, 's3', input);
  return location;
}

test('s3 URLs: bucket and key, a trailing slash changes nothing, the whole bucket', () => {
  for (const [input, bucket, key] of [
    ['s3://bucket/data', 'bucket', 'data'],
    ['s3://bucket/a/b/model.bin', 'bucket', 'a/b/model.bin'],
    ['s3://bucket', 'bucket', ''],
  ] as const)
    assert.deepEqual(parseLocation(input), { kind: 's3', bucket, key, url: input });
  assert.equal(s3('s3://bucket/data/').url, 's3://bucket/data');
  assert.equal(s3('S3://bucket/data').url, 's3://bucket/data');
  assert.equal(s3('s3://bucket/').key, '');
  assert.equal(s3('s3://b-1/with space/ünï #?.txt').key, 'with space/ünï #?.txt');
});

test('anything without a scheme is a local path, passed through as written', () => {
  for (const p of ['/data/x', 'relative/dir', '~/models', './s3:/not-a-url'])
    assert.deepEqual(parseLocation(p), { kind: 'local', path: p });
});

test('bad URLs are refused with INVALID_INPUT saying what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['gs://bucket/x', /only s3:\/\/ URLs .* not gs:\/\//],
    ['https://bucket.s3.amazonaws.com/x', /not https:\/\//],
    ['s3:///key', /names no bucket/],
    ['s3://', /names no bucket/],
    ['s3://Bad_Bucket/x', /invalid bucket name "Bad_Bucket": .*lowercase/],
    ['s3://ab/x', /3 to 63 characters/],
    ['s3://bucket/a/../../etc', /"\.\." path segment/],
    ['s3://bucket/a//b', /empty path segment/],
    ['s3://bucket/./x', /"\." path segment/],
    [`s3://bucket/${'k'.repeat(1100)}`, /longer than S3 allows/],
    ['', /expected an s3:\/\/bucket\/key URL or a local path/],
  ];
  for (const [input, message] of cases) {
    assert.throws(
      () => parseLocation(input),
      (err: unknown) => isBucketspaceError(err, 'INVALID_INPUT') && message.test(err.message),
      input,
    );
  }
});

test('the cache path is <cacheRoot>/<bucket>/<key>; ~ is the home directory', () => {
  assert.equal(cachePath('/cache', s3('s3://bucket/a/b')), '/cache/bucket/a/b');
  assert.equal(cachePath('/cache', s3('s3://bucket')), '/cache/bucket');
  assert.equal(localPath('~/x'), join(homedir(), 'x'));
  assert.equal(localPath('~'), homedir());
  assert.equal(localPath('/abs/./y'), '/abs/y');
});
