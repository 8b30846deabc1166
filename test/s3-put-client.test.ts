// Integration tests of the signed single-PUT path against a real S3 API (s3rver, or
// S3_TEST_ENDPOINT), through a proxy that checks signatures and Content-MD5 as AWS does.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { isBucketspaceError } from '../services/common/errors.ts';
import { silentLogger } from '../services/common/logger.ts';
import type { Clock } from '../services/common/clock.ts';
import { S3PutClient } from '../services/common/s3/s3-put-client.ts';
import { S3RetryPolicy } from '../services/common/s3/s3-retry.ts';
import { headObject } from './support/bucket.ts';
import { startCountingProxy, type CountingProxy } from './support/counting-proxy.ts';
import { useTestS3 } from './support/s3-fixture.ts';

const fixture = useTestS3();
const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

let dir = '';
let bucket = '';

interface ClientSetup {
  proxy: CountingProxy;
  client: S3PutClient;
  offset: { value: number };
  /** The waits between attempts, as asked of the clock (none of them slept). */
  waits: number[];
}

/** Real time for signing; waits between attempts are recorded and skipped, never slept. */
function skippingClock(waits: number[]): Clock {
  return {
    now: () => Date.now(),
    setTimeout: (fn, ms) => {
      waits.push(ms);
      return setImmediate(fn);
    },
    clearTimeout: (handle) => clearImmediate(handle as NodeJS.Immediate),
  };
}

async function setUp(
  options: {
    failFirstPuts?: number;
    secret?: string;
    bucketName?: string;
    maxAttempts?: number;
    clockOffsetMs?: number;
  } = {},
): Promise<ClientSetup> {
  const { s3 } = fixture;
  const proxy = await startCountingProxy(() => s3.endpoint, {
    failFirstPuts: options.failFirstPuts,
    verify: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  const offset = { value: options.clockOffsetMs ?? 0 };
  const waits: number[] = [];
  const client = new S3PutClient({
    target: {
      baseUrl: new URL(`${proxy.url}/${options.bucketName ?? bucket}`),
      signingRegion: s3.region,
      signingService: 's3',
    },
    credentials: () =>
      Promise.resolve({
        accessKeyId: s3.accessKeyId,
        secretAccessKey: options.secret ?? s3.secretAccessKey,
      }),
    clockOffset: { get: () => offset.value, set: (ms) => (offset.value = ms) },
    retry: new S3RetryPolicy({ maxAttempts: options.maxAttempts ?? 4 }),
    clock: skippingClock(waits),
    maxSockets: 4,
    connectionTimeoutMs: 5_000,
    requestTimeoutMs: 60_000,
    logger: silentLogger(),
  });
  return { proxy, client, offset, waits };
}

async function tearDown(setup: ClientSetup): Promise<void> {
  setup.client.destroy();
  await setup.proxy.close();
}

async function objectBytes(key: string): Promise<Buffer> {
  const res = await fixture.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from((await res.Body?.transformToByteArray()) ?? new Uint8Array());
}

async function expectRejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected the upload to fail');
}

describe('S3PutClient: one signed PUT', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bs-put-'));
    bucket = fixture.s3.newBucketName();
    await fixture.client.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('uploads bytes and files with metadata; signatures and Content-MD5 hold; ETag is the MD5', async () => {
    const setup = await setUp();
    try {
      const small = Buffer.from('small body\n');
      const mid = randomBytes(3 * 1024 * 1024 + 7);
      const midPath = join(dir, 'mid.bin');
      await writeFile(midPath, mid);
      const empty = join(dir, 'empty');
      await writeFile(empty, '');
      let progressed = 0;
      const results = await Promise.all([
        setup.client.put({ key: 'ws/small.txt', body: small, size: small.length }),
        setup.client.put({
          key: "ws/odd name ünï #?%+&=;!'()*~.bin",
          filePath: midPath,
          size: mid.length,
          metadata: { mtime: '1795236643.713', mode: '33188' },
          onProgress: (b) => (progressed += b),
        }),
        setup.client.put({ key: 'ws/empty', filePath: empty, size: 0 }),
      ]);
      assert.deepEqual(results, [md5(small), md5(mid), md5(Buffer.alloc(0))]);
      assert.equal(progressed, mid.length, 'file bodies report progress as they are sent');
      assert.deepEqual(
        setup.proxy.requests.filter((r) => r.rejected !== undefined),
        [],
        'the AWS SDK signer agrees with every signature',
      );
      assert.deepEqual(await objectBytes("ws/odd name ünï #?%+&=;!'()*~.bin"), mid);
      assert.deepEqual(await objectBytes('ws/small.txt'), small);
      const head = await headObject(fixture.client, bucket, "ws/odd name ünï #?%+&=;!'()*~.bin");
      assert.deepEqual(head.Metadata, { mtime: '1795236643.713', mode: '33188' });
      assert.equal(head.ContentLength, mid.length);
    } finally {
      await tearDown(setup);
    }
  });

  test('a 503 is retried with the whole body again, for bytes and for files (re-opened)', async () => {
    const setup = await setUp({ failFirstPuts: 2 });
    try {
      const small = randomBytes(1000);
      const mid = randomBytes(2 * 1024 * 1024 + 3);
      const midPath = join(dir, 'retry.bin');
      await writeFile(midPath, mid);
      await setup.client.put({ key: 'retry/small', body: small, size: small.length });
      await setup.client.put({ key: 'retry/mid', filePath: midPath, size: mid.length });
      const puts = setup.proxy.requests.filter((r) => r.method === 'PUT');
      assert.equal(puts.filter((r) => r.injectedFailure).length, 4, 'two 503s per object');
      assert.equal(puts.length, 6);
      assert.equal(setup.waits.length, 4, 'a backoff before each retry, on the clock');
      assert.ok(
        setup.waits.every((ms) => ms > 0 && ms <= 200),
        `first two backoffs: ${setup.waits.join(', ')} ms`,
      );
      assert.deepEqual(await objectBytes('retry/small'), small);
      assert.deepEqual(await objectBytes('retry/mid'), mid);
    } finally {
      await tearDown(setup);
    }
  });

  test('a file changed after it was hashed (BadDigest) is hashed again and sent again', async () => {
    const setup = await setUp();
    try {
      const body = randomBytes(1500 * 1024);
      const path = join(dir, 'changed.bin');
      await writeFile(path, body);
      const etag = await setup.client.put({
        key: 'digest/changed',
        filePath: path,
        size: body.length,
        md5Hex: md5(Buffer.from('the content before the edit')),
      });
      assert.equal(etag, md5(body));
      assert.deepEqual(
        setup.proxy.requests.map((r) => r.rejected !== undefined),
        [true, false],
        'the stale Content-MD5 is refused once, then the new one accepted',
      );
    } finally {
      await tearDown(setup);
    }
  });

  test('a clock an hour off is corrected from the server and the PUT retried', async () => {
    const setup = await setUp({ clockOffsetMs: -3_600_000 });
    try {
      await setup.client.put({ key: 'clock/a', body: Buffer.from('a'), size: 1 });
      assert.match(setup.proxy.requests[0]?.rejected ?? '', /15 minutes/);
      assert.ok(Math.abs(setup.offset.value) < 60_000, `offset now ${setup.offset.value} ms`);
    } finally {
      await tearDown(setup);
    }
  });

  test('refusals that retrying cannot fix fail at once with their code', async () => {
    const wrongKey = await setUp({ secret: 'not-the-secret' });
    const noBucket = await setUp({ bucketName: fixture.s3.newBucketName() });
    try {
      const denied = await expectRejection(
        wrongKey.client.put({ key: 'x/a', body: Buffer.from('a'), size: 1 }),
      );
      assert.ok(isBucketspaceError(denied, 'S3_AUTH'), String(denied));
      assert.equal(wrongKey.proxy.requests.length, 1, 'no retries of an auth failure');

      const missing = await expectRejection(
        noBucket.client.put({ key: 'x/a', body: Buffer.from('a'), size: 1 }),
      );
      assert.ok(isBucketspaceError(missing, 'S3_NO_SUCH_BUCKET'), String(missing));
      assert.equal(noBucket.proxy.requests.length, 1);
    } finally {
      await tearDown(wrongKey);
      await tearDown(noBucket);
    }
  });

  test('local problems are local errors: a vanished file, a file shorter than planned', async () => {
    const setup = await setUp();
    try {
      const gone = await expectRejection(
        setup.client.put({ key: 'l/gone', filePath: join(dir, 'no-such-file'), size: 10 }),
      );
      assert.ok(isBucketspaceError(gone, 'LOCAL_NOT_FOUND'), String(gone));
      const path = join(dir, 'short.bin');
      await writeFile(path, Buffer.alloc(1000, 1));
      const short = await expectRejection(
        setup.client.put({ key: 'l/short', filePath: path, size: 5000, md5Hex: 'a'.repeat(32) }),
      );
      assert.ok(isBucketspaceError(short, 'LOCAL_UNREADABLE'), String(short));
      assert.match((short as Error).message, /changed size while it was uploaded/);
    } finally {
      await tearDown(setup);
    }
  });

  test('an unreachable server fails as S3_UNREACHABLE after the attempts; an abort stops at once', async () => {
    const setup = await setUp({ maxAttempts: 2 });
    const port = new URL(setup.proxy.url).port;
    await tearDown(setup); // nothing listens on that port any more
    const dead = new S3PutClient({
      target: {
        baseUrl: new URL(`http://127.0.0.1:${port}/${bucket}`),
        signingRegion: 'us-east-1',
        signingService: 's3',
      },
      credentials: () => Promise.resolve({ accessKeyId: 'a', secretAccessKey: 'b' }),
      clockOffset: { get: () => 0, set: () => undefined },
      retry: new S3RetryPolicy({ maxAttempts: 2 }),
      clock: skippingClock([]),
      maxSockets: 1,
      connectionTimeoutMs: 5_000,
      requestTimeoutMs: 60_000,
      logger: silentLogger(),
    });
    try {
      const err = await expectRejection(dead.put({ key: 'a', body: Buffer.from('a'), size: 1 }));
      assert.ok(isBucketspaceError(err, 'S3_UNREACHABLE'), String(err));
      const aborted = await expectRejection(
        dead.put({ key: 'a', body: Buffer.from('a'), size: 1, signal: AbortSignal.abort() }),
      );
      assert.ok(isBucketspaceError(aborted, 'ABORTED'), String(aborted));
    } finally {
      dead.destroy();
    }
  });
});
