import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sigV4Problem } from '../../../test/support/sigv4-check.ts';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { encodeKeyPath } from './s3-put-client.ts';
import { S3Signer, type SignableRequest, type SigningCredentials } from './sigv4.ts';

// S3Signer against the worked examples of https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
// (all but the PUT example, which signs a Date header: the SDK's signer never sends one).
const EXAMPLE_CREDENTIALS = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
};
const EXAMPLE_DATE = new Date('2013-05-24T00:00:00Z');
const HOST = 'examplebucket.s3.amazonaws.com';
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function exampleSigner() {
  return new S3Signer({
    credentials: () => Promise.resolve(EXAMPLE_CREDENTIALS),
    region: 'us-east-1',
    service: 's3',
  });
}

async function authorization(
  signer: S3Signer,
  request: {
    method: string;
    path: string;
    query?: Record<string, string>;
    headers: Record<string, string>;
  },
  date = EXAMPLE_DATE,
): Promise<Record<string, string>> {
  const signed = await signer.sign({ query: {}, ...request }, { signingDate: date });
  return signed.headers;
}

function signatureOf(auth: string | undefined): string | undefined {
  return /Signature=([0-9a-f]{64})$/.exec(auth ?? '')?.[1];
}

describe('S3Signer: the AWS examples', () => {
  test('GET object with a Range header', async () => {
    const headers = await authorization(exampleSigner(), {
      method: 'GET',
      path: '/test.txt',
      headers: { host: HOST, range: 'bytes=0-9', 'x-amz-content-sha256': EMPTY_SHA256 },
    });
    assert.equal(headers['x-amz-date'], '20130524T000000Z');
    assert.equal(
      headers.authorization,
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
  });

  test('GET bucket lifecycle: a query parameter without a value', async () => {
    const headers = await authorization(exampleSigner(), {
      method: 'GET',
      path: '/',
      query: { lifecycle: '' },
      headers: { host: HOST, 'x-amz-content-sha256': EMPTY_SHA256 },
    });
    assert.equal(
      signatureOf(headers.authorization),
      'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543',
    );
  });

  test('GET bucket with a query string', async () => {
    const headers = await authorization(exampleSigner(), {
      method: 'GET',
      path: '/',
      query: { 'max-keys': '2', prefix: 'J' },
      headers: { host: HOST, 'x-amz-content-sha256': EMPTY_SHA256 },
    });
    assert.equal(
      signatureOf(headers.authorization),
      '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7',
    );
  });
});

describe('S3 signing, checked as a server checks it', () => {
  const secrets = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxR' };
  const signer = (credentials: {
    accessKeyId: string;
    secretAccessKey: string;
    sessionToken?: string;
  }) =>
    new S3Signer({
      credentials: () => Promise.resolve(credentials),
      region: 'eu-west-1',
      service: 's3',
    });
  const put = (key: string) => ({
    method: 'PUT',
    path: `/bucket/${encodeKeyPath(key)}`,
    headers: {
      host: '127.0.0.1:9000',
      'content-length': '6',
      'content-md5': 'sZRqySSS0jR8YjW00mERhA==',
      'content-type': 'application/octet-stream',
      'x-amz-meta-mtime': '1795236643.713',
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
    },
  });

  test('keys are encoded as S3 canonicalizes them (RFC 3986; slashes kept)', async () => {
    assert.equal(encodeKeyPath('ws/a b/c=d'), 'ws/a%20b/c%3Dd');
    assert.equal(encodeKeyPath('test$file.text'), 'test%24file.text');
    assert.equal(encodeKeyPath("ws/!'()*~-_."), 'ws/%21%27%28%29%2A~-_.');
    assert.equal(encodeKeyPath('ключ+%'), '%D0%BA%D0%BB%D1%8E%D1%87%2B%25');
    for (const key of [
      'ws/dir with space/file name.txt',
      'ws/ünï cödé/日本語.md',
      'ws/#?%+&=;!\'()*~$@,:[]{}|^`\\".txt',
      'ws/a//double/./dot/../x',
    ]) {
      const req = put(key);
      const headers = await authorization(signer(secrets), req, new Date());
      // The check decodes the received path and re-encodes it strictly, as AWS and MinIO do.
      assert.equal(
        await sigV4Problem({ method: 'PUT', url: req.path, headers }, secrets),
        undefined,
        key,
      );
    }
  });

  test('a session token is sent and signed', async () => {
    const req = put('k');
    const headers = await authorization(
      signer({ ...secrets, sessionToken: 'FwoGZX/token+with=chars' }),
      req,
      new Date(),
    );
    assert.equal(headers['x-amz-security-token'], 'FwoGZX/token+with=chars');
    assert.match(headers.authorization ?? '', /;x-amz-security-token, Signature=/);
    assert.equal(await sigV4Problem({ method: 'PUT', url: req.path, headers }, secrets), undefined);
  });

  test('the check can fail: a wrong secret, a changed header', async () => {
    const req = put('k');
    const wrong = await authorization(
      signer({ ...secrets, secretAccessKey: 'other' }),
      req,
      new Date(),
    );
    assert.match(
      (await sigV4Problem({ method: 'PUT', url: req.path, headers: wrong }, secrets)) ?? '',
      /SDK's signer computes/,
    );
    const good = await authorization(signer(secrets), req, new Date());
    const tampered = { ...good, 'content-md5': 'AAAAAAAAAAAAAAAAAAAAAA==' };
    assert.notEqual(
      await sigV4Problem({ method: 'PUT', url: req.path, headers: tampered }, secrets),
      undefined,
    );
  });
});

describe('S3Signer signs as the AWS SDK signer does', () => {
  const sdkSigner = (credentials: SigningCredentials, region: string) =>
    new SignatureV4({
      credentials,
      region,
      service: 's3',
      sha256: Hash.bind(null, 'sha256'),
      uriEscapePath: false,
      applyChecksum: false,
    });
  const requests: SignableRequest[] = [
    {
      method: 'GET',
      path: `/bucket/${encodeKeyPath("ws/ünï #?%+&=;!'()*~.txt")}`,
      headers: { host: '127.0.0.1:9000', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    },
    {
      method: 'GET',
      path: '/bucket/',
      query: {
        'list-type': '2',
        prefix: 'ws/a b&c/',
        'continuation-token': '1/xY+z=',
        'encoding-type': 'url',
        'max-keys': '1000',
        delimiter: '/',
      },
      headers: { host: 'minio:9000', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    },
    {
      method: 'PUT',
      path: '/b/k',
      headers: {
        Host: 'b.s3.eu-west-1.amazonaws.com',
        'Content-Length': '6',
        'content-md5': 'sZRqySSS0jR8YjW00mERhA==',
        'x-amz-meta-note': '  two   spaces  ',
        'user-agent': 'bucketspace',
        expect: '100-continue',
        'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      },
    },
  ];
  const credentialSets: SigningCredentials[] = [
    { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxR' },
    { accessKeyId: 'AKID2', secretAccessKey: 's', sessionToken: 'FwoGZX/token+with=chars' },
  ];

  test('the same headers and Authorization for GETs, listings and PUTs, over two days and two keys', async () => {
    for (const credentials of credentialSets)
      for (const region of ['us-east-1', 'eu-west-1']) {
        const ours = new S3Signer({
          credentials: () => Promise.resolve(credentials),
          region,
          service: 's3',
        });
        for (const signingDate of [
          new Date('2026-11-29T23:59:59.999Z'),
          new Date('2026-11-30T00:00:01Z'),
        ])
          for (const request of requests) {
            const sdk = await sdkSigner(credentials, region).sign(
              { protocol: 'https:', hostname: 'h', query: {}, ...request },
              { signingDate },
            );
            const signed = await ours.sign(request, { signingDate });
            assert.deepEqual(signed.headers, sdk.headers, `${request.method} ${request.path}`);
          }
      }
  });
});
