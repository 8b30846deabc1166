import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sigV4Problem } from '../../test/support/sigv4-check.ts';
import { encodeKeyPath, SigV4Signer, toAmzDate, UNSIGNED_PAYLOAD, uriEncode } from './sigv4.ts';

// The worked examples of https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
const EXAMPLE = {
  credentials: {
    accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  },
  region: 'us-east-1',
  service: 's3',
  date: new Date('2013-05-24T00:00:00Z'),
};
const HOST = 'examplebucket.s3.amazonaws.com';
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function signatureOf(authorization: string): string | undefined {
  return /Signature=([0-9a-f]{64})$/.exec(authorization)?.[1];
}

describe('SigV4 signer: the AWS documentation examples', () => {
  test('GET object with a Range header', () => {
    const signed = new SigV4Signer().sign({
      ...EXAMPLE,
      method: 'GET',
      path: '/test.txt',
      headers: { host: HOST, range: 'bytes=0-9' },
      payloadHash: EMPTY_SHA256,
    });
    assert.equal(signed['x-amz-date'], '20130524T000000Z');
    assert.equal(
      signed.authorization,
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
  });

  test('PUT object: a `$` in the key is encoded, extra headers signed', () => {
    const signed = new SigV4Signer().sign({
      ...EXAMPLE,
      method: 'PUT',
      path: `/${encodeKeyPath('test$file.text')}`,
      headers: {
        Host: HOST,
        Date: 'Fri, 24 May 2013 00:00:00 GMT',
        'X-Amz-Storage-Class': 'REDUCED_REDUNDANCY',
      },
      payloadHash: '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
    });
    assert.equal(
      signatureOf(signed.authorization),
      '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
    );
    assert.match(
      signed.authorization,
      /SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,/,
    );
  });

  test('GET bucket with a query string', () => {
    const signed = new SigV4Signer().sign({
      ...EXAMPLE,
      method: 'GET',
      path: '/',
      query: { 'max-keys': '2', prefix: 'J' },
      headers: { host: HOST },
      payloadHash: EMPTY_SHA256,
    });
    assert.equal(
      signatureOf(signed.authorization),
      '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7',
    );
  });
});

describe('SigV4 signer against the AWS SDK signer', () => {
  const secrets = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxR' };
  const keys = [
    'ws/a.txt',
    'ws/dir with space/file name.txt',
    'ws/ünï cödé/日本語.md',
    'ws/#?%+&=;!\'()*~$@,:[]{}|^`\\".txt',
    'ws/a//double/./dot/../x',
    `ws/${'deep/'.repeat(40)}leaf`,
  ];
  for (const key of keys) {
    test(`the same signature for ${JSON.stringify(key).slice(0, 60)}`, async () => {
      const path = `/bucket/${encodeKeyPath(key)}`;
      const headers = {
        host: '127.0.0.1:9000',
        'content-length': '6',
        'content-md5': 'sZRqySSS0jR8YjW00mERhA==',
        'content-type': 'application/octet-stream',
        'x-amz-meta-mtime': '1795236643.713',
        'x-amz-meta-mode': '33188',
      };
      const signed = new SigV4Signer().sign({
        method: 'PUT',
        path,
        headers,
        payloadHash: UNSIGNED_PAYLOAD,
        credentials: secrets,
        region: 'eu-west-1',
        service: 's3',
        date: new Date('2026-11-21T05:00:00.456Z'),
      });
      const problem = await sigV4Problem(
        { method: 'PUT', url: path, headers: { ...headers, ...signed } },
        secrets,
      );
      assert.equal(problem, undefined);
    });
  }

  test('a session token is sent and signed', async () => {
    const credentials = { ...secrets, sessionToken: 'FwoGZX/token+with=chars' };
    const headers = { host: 'bucket.s3.eu-west-1.amazonaws.com', 'content-length': '0' };
    const signed = new SigV4Signer().sign({
      method: 'PUT',
      path: '/k',
      headers,
      payloadHash: UNSIGNED_PAYLOAD,
      credentials,
      region: 'eu-west-1',
      service: 's3',
      date: new Date('2026-11-21T05:00:00Z'),
    });
    assert.equal(signed['x-amz-security-token'], credentials.sessionToken);
    assert.match(signed.authorization, /;x-amz-security-token, Signature=/);
    // The check signs with the plain secrets: it must include the token header it received.
    const problem = await sigV4Problem(
      { method: 'PUT', url: '/k', headers: { ...headers, ...signed } },
      secrets,
    );
    assert.equal(problem, undefined);
  });

  test('a wrong secret or a changed header is caught by the check (the check can fail)', async () => {
    const headers = { host: 'h:1', 'content-md5': 'sZRqySSS0jR8YjW00mERhA==' };
    const signed = new SigV4Signer().sign({
      method: 'PUT',
      path: '/b/k',
      headers,
      payloadHash: UNSIGNED_PAYLOAD,
      credentials: { ...secrets, secretAccessKey: 'other' },
      region: 'eu-west-1',
      service: 's3',
      date: new Date(),
    });
    assert.match(
      (await sigV4Problem(
        { method: 'PUT', url: '/b/k', headers: { ...headers, ...signed } },
        secrets,
      )) ?? '',
      /SDK's signer computes/,
    );
    const good = new SigV4Signer().sign({
      method: 'PUT',
      path: '/b/k',
      headers,
      payloadHash: UNSIGNED_PAYLOAD,
      credentials: secrets,
      region: 'eu-west-1',
      service: 's3',
      date: new Date(),
    });
    const tampered = { ...headers, ...good, 'content-md5': 'AAAAAAAAAAAAAAAAAAAAAA==' };
    assert.notEqual(
      await sigV4Problem({ method: 'PUT', url: '/b/k', headers: tampered }, secrets),
      undefined,
    );
  });

  test('the signing key follows the day, region and secret', () => {
    const signer = new SigV4Signer();
    const base = {
      method: 'PUT',
      path: '/b/k',
      headers: { host: 'h' },
      payloadHash: UNSIGNED_PAYLOAD,
      credentials: secrets,
      region: 'eu-west-1',
      service: 's3',
    };
    const day1 = signer.sign({ ...base, date: new Date('2026-11-21T23:59:59Z') });
    const day2 = signer.sign({ ...base, date: new Date('2026-11-22T00:00:00Z') });
    assert.match(day2.authorization, /\/20261122\/eu-west-1\/s3\//);
    const fresh = new SigV4Signer().sign({ ...base, date: new Date('2026-11-22T00:00:00Z') });
    assert.equal(day2.authorization, fresh.authorization, 'a cached key is never a stale one');
    assert.notEqual(day1.authorization, day2.authorization);
    const otherSecret = signer.sign({
      ...base,
      credentials: { ...secrets, secretAccessKey: 'rotated' },
      date: new Date('2026-11-22T00:00:00Z'),
    });
    assert.notEqual(otherSecret.authorization, day2.authorization);
  });
});

test('URI encoding: RFC 3986 unreserved characters only; key slashes kept', () => {
  assert.equal(uriEncode("a b!'()*~-_."), 'a%20b%21%27%28%29%2A~-_.');
  assert.equal(uriEncode('ключ+%'), '%D0%BA%D0%BB%D1%8E%D1%87%2B%25');
  assert.equal(encodeKeyPath('ws/a b/c=d'), 'ws/a%20b/c%3Dd');
  assert.equal(toAmzDate(new Date('2013-05-24T00:00:00.999Z')), '20130524T000000Z');
});
