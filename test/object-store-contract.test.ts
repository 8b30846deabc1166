// The ObjectStore contract: what the sync (and any other caller) may rely on from the S3
// adapter, run against a real S3 API (s3rver, or S3_TEST_ENDPOINT) for both upload paths:
// the signed single PUT (a high S3_UPLOAD_CUTOFF) and multipart (the lowest cutoff).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { isBucketspaceError } from '../services/common/errors.ts';
import { silentLogger } from '../services/common/logger.ts';
import { localEtags } from '../services/common/s3/etag.ts';
import type { ObjectStore } from '../services/common/s3/object-store.ts';
import { S3ObjectStore } from '../services/common/s3/s3-object-store.ts';
import { finishS3Config, S3_SETTINGS } from '../services/common/s3/s3-settings.ts';
import { resolveSettings } from '../services/common/settings.ts';
import { startCountingProxy, type CountingProxy } from './support/counting-proxy.ts';
import { useTestS3 } from './support/s3-fixture.ts';

const fixture = useTestS3();
const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

/** Larger than the low cutoff and than one part (8 MiB): two parts there, one PUT with the high cutoff. */
const LARGE = 9 * 1024 * 1024 + 3;

interface Variant {
  name: string;
  cutoff: string;
  /** How the large file must reach the server, as seen by the counting proxy. */
  largeUpload: 'single' | 'multipart';
}

const VARIANTS: Variant[] = [
  { name: 'single PUT (S3_UPLOAD_CUTOFF=200MiB)', cutoff: '200MiB', largeUpload: 'single' },
  { name: 'multipart (S3_UPLOAD_CUTOFF=5MiB)', cutoff: '5MiB', largeUpload: 'multipart' },
];

async function collect(store: ObjectStore, key: string) {
  const chunks: Buffer[] = [];
  const writeTo = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  const res = await store.get({ key, writeTo });
  return { ...res, body: Buffer.concat(chunks) };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  return assert.fail('expected a rejection');
}

for (const variant of VARIANTS) {
  describe(`ObjectStore contract: S3ObjectStore, ${variant.name}`, () => {
    let dir = '';
    let proxy: CountingProxy | undefined;
    let large: Buffer;
    let largePath = '';

    const storeFor = (
      bucket: string,
      env: Record<string, string> = {},
      options: { copyCutoff?: number } = {},
    ): S3ObjectStore => {
      const raw = resolveSettings(S3_SETTINGS, {
        env: {
          ...fixture.s3.env(bucket),
          // Through the proxy with s3rver (it checks signatures and Content-MD5, which s3rver does not).
          ...(proxy ? { S3_ENDPOINT: proxy.url } : {}),
          S3_UPLOAD_CUTOFF: variant.cutoff,
          S3_MAX_ATTEMPTS: '2',
          ...env,
        },
      });
      return new S3ObjectStore({
        config: finishS3Config(raw).config,
        logger: silentLogger(),
        ...options,
      });
    };

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'bs-contract-'));
      large = randomBytes(LARGE);
      largePath = join(dir, 'large.bin');
      await writeFile(largePath, large);
      if (fixture.s3.local)
        proxy = await startCountingProxy(() => fixture.s3.endpoint, {
          verify: {
            accessKeyId: fixture.s3.accessKeyId,
            secretAccessKey: fixture.s3.secretAccessKey,
          },
        });
    });
    after(async () => {
      await proxy?.close();
      await rm(dir, { recursive: true, force: true });
    });

    test('ensureBucket creates a missing bucket once', async () => {
      const store = storeFor(fixture.s3.newBucketName());
      try {
        assert.equal(await store.ensureBucket(), 'created');
        assert.equal(await store.ensureBucket(), 'exists');
      } finally {
        store.destroy();
      }
    });

    test('a file and bytes round-trip with metadata; the ETag is what the listing says and what the content gives', async () => {
      const store = storeFor(fixture.s3.newBucketName());
      try {
        await store.ensureBucket();
        proxy?.reset();
        let progressed = 0;
        const fileEtag = (
          await store.put({
            key: 'ws/large.bin',
            filePath: largePath,
            size: LARGE,
            metadata: { mtime: '1795236643.713', mode: '33261' },
            onProgress: (b) => (progressed += b),
          })
        ).etag;
        assert.equal(progressed, LARGE, 'progress adds up to the size');
        if (proxy) {
          const puts = proxy.requests.filter((r) => r.method === 'PUT' || r.method === 'POST');
          const parts = puts.filter((r) =>
            new URL(r.url, 'http://x').searchParams.has('partNumber'),
          );
          assert.equal(
            parts.length > 0,
            variant.largeUpload === 'multipart',
            `requests: ${puts.map((r) => `${r.method} ${r.url}`).join(', ')}`,
          );
          assert.deepEqual(
            proxy.requests.filter((r) => r.rejected !== undefined),
            [],
            'every signature and Content-MD5 holds',
          );
        }
        const small = Buffer.from('small body\n');
        const bytesEtag = (
          await store.put({
            key: 'ws/small.txt',
            body: small,
            size: small.length,
            md5Hex: md5(small),
          })
        ).etag;
        assert.equal(bytesEtag, md5(small));

        const listed = await store.list('ws/');
        assert.deepEqual(
          listed.map((o) => [o.key, o.size, o.etag]),
          [
            ['ws/large.bin', LARGE, fileEtag],
            ['ws/small.txt', small.length, bytesEtag],
          ],
        );
        assert.ok(
          (await localEtags(largePath, LARGE, fileEtag)).includes(fileEtag),
          'the local file hashes to the listed ETag',
        );
        assert.ok(
          listed.every((o) => /^[0-9a-f]{32}(-\d+)?$/.test(o.etag)),
          'ETags normalised: no quotes, lower case',
        );

        const got = await collect(store, 'ws/large.bin');
        assert.ok(got.body.equals(large), 'same bytes back');
        assert.equal(got.etag, fileEtag);
        assert.deepEqual(got.metadata, { mtime: '1795236643.713', mode: '33261' });
        const inMemory = await store.getBytes({ key: 'ws/large.bin' });
        assert.deepEqual(
          { ...inMemory, body: inMemory.body.equals(large) },
          { size: LARGE, etag: fileEtag, metadata: got.metadata, body: true },
          'getBytes gives what get writes',
        );
        assert.equal(
          (await store.getBytes({ key: 'ws/small.txt' })).body.toString(),
          'small body\n',
        );
        // Regression: requests watch their abort signal themselves (one listener per signal).
        const controller = new AbortController();
        const midway = new Writable({
          write(_chunk, _encoding, callback) {
            controller.abort();
            callback();
          },
        });
        const aborted = await rejection(
          store.get({ key: 'ws/large.bin', writeTo: midway, signal: controller.signal }),
        );
        assert.ok(isBucketspaceError(aborted, 'ABORTED'), `aborted mid-body: ${String(aborted)}`);
        const never = new AbortController().signal;
        assert.equal(
          (await store.getBytes({ key: 'ws/small.txt', signal: never })).body.toString(),
          'small body\n',
          'a signal that never aborts changes nothing',
        );
      } finally {
        store.destroy();
      }
    });

    test('odd keys, overwrites, prefixes, pagination and deletes', async () => {
      const store = storeFor(fixture.s3.newBucketName());
      try {
        await store.ensureBucket();
        const odd = ["ws/with space/ünï #?%+&=;!'()*~.txt", 'ws/a/b', 'other/x'];
        for (const key of odd)
          await store.put({ key, body: Buffer.from(key), size: Buffer.byteLength(key) });
        const v2 = Buffer.from('second version, longer');
        const first = (await store.list('ws/a/b'))[0]?.etag;
        await store.put({ key: 'ws/a/b', body: v2, size: v2.length });
        assert.notEqual(
          (await store.list('ws/a/b'))[0]?.etag,
          first,
          'an overwrite replaces the object',
        );
        assert.deepEqual(
          (await store.list('ws/')).map((o) => o.key).sort(),
          odd.slice(0, 2).sort(),
        );

        const many = Array.from({ length: 1005 }, (_, i) => `page/${String(i).padStart(4, '0')}`);
        const queue = [...many];
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            for (let key = queue.shift(); key !== undefined; key = queue.shift())
              await store.put({ key, body: Buffer.from('x'), size: 1 });
          }),
        );
        assert.deepEqual(
          (await store.list('page/')).map((o) => o.key),
          many,
          'one listing, every page',
        );

        const res = await store.deleteMany([...many, 'page/never-existed']);
        assert.equal(res.failed.length, 0);
        assert.equal(res.deleted.length, many.length + 1, 'deleting a missing key is not an error');
        assert.deepEqual(await store.list('page/'), []);
      } finally {
        store.destroy();
      }
    });

    test('head answers one object or undefined; listLevel shows one level with its subdirectories', async () => {
      const store = storeFor(fixture.s3.newBucketName());
      try {
        await store.ensureBucket();
        // Every directory holds a file directly: s3rver leaves directories holding only
        // directories out of delimiter listings (AWS and MinIO do not).
        const keys = ['d/top.txt', 'd/sub/a.txt', 'd/sub/deeper/b.txt', 'd/other/c.txt', 'dx/y'];
        for (const key of keys)
          await store.put({ key, body: Buffer.from(key), size: Buffer.byteLength(key) });
        const head = await store.head('d/sub/a.txt');
        assert.equal(head?.size, Buffer.byteLength('d/sub/a.txt'));
        assert.equal(head?.etag, md5(Buffer.from('d/sub/a.txt')));
        assert.equal(await store.head('d/sub'), undefined, 'a prefix is no object');
        assert.equal(await store.head('d/none.txt'), undefined);
        const level = await store.listLevel('d/');
        assert.deepEqual(
          level.objects.map((o) => o.key),
          ['d/top.txt'],
        );
        assert.deepEqual(level.prefixes.sort(), ['d/other/', 'd/sub/']);
        assert.deepEqual((await store.listLevel('d/sub/')).prefixes, ['d/sub/deeper/']);
        assert.deepEqual(await store.listLevel('nothing/'), { objects: [], prefixes: [] });
      } finally {
        store.destroy();
      }
    });

    test('copy keeps content, metadata and ETag on the server; a missing source fails classified', async () => {
      const store = storeFor(fixture.s3.newBucketName());
      try {
        await store.ensureBucket();
        // s3rver decodes x-amz-copy-source with decodeURI, which leaves %2B, %26, %3D, %23 and %3F
        // encoded; S3 and MinIO decode them. Keys with those characters are copied against real S3.
        const odd = fixture.s3.local
          ? 'ws/with space/ünï (1)~.txt'
          : "ws/with space/ünï #?%+&=;!'()*~.txt";
        const small = Buffer.from('small body');
        const meta = { mtime: '1795236643.713', mode: '33261' };
        const smallEtag = (
          await store.put({ key: odd, body: small, size: small.length, metadata: meta })
        ).etag;
        const largeEtag = (
          await store.put({ key: 'ws/large.bin', filePath: largePath, size: LARGE, metadata: meta })
        ).etag;
        for (const [from, etag, body] of [
          [odd, smallEtag, small],
          ['ws/large.bin', largeEtag, large],
        ] as const) {
          const to = `.trash/ws/2026-11-30T12-00-00.000Z/${from.slice(3)}`;
          const copied = await store.copy({ from, to, size: body.length });
          // A copy of a multipart object may get the plain MD5 as its ETag (S3 does that).
          assert.ok([etag, md5(body)].includes(copied.etag), `${from}: ETag ${copied.etag}`);
          assert.equal((await store.list(to))[0]?.etag, copied.etag, 'the listing agrees');
          const got = await collect(store, to);
          assert.ok(got.body.equals(body), `${from}: same bytes`);
          assert.deepEqual(got.metadata, meta, `${from}: same metadata`);
          assert.ok((await collect(store, from)).body.equals(body), `${from}: the source stays`);
        }
        const missing = await rejection(
          store.copy({ from: 'ws/never-put', to: 'ws/copy', size: 1 }),
        );
        assert.ok(isBucketspaceError(missing), String(missing));
        assert.equal((missing as { retryable: boolean }).retryable, false);
      } finally {
        store.destroy();
      }
    });

    test(
      'copy above the copy cutoff goes in parts (UploadPartCopy) and keeps content and metadata',
      { skip: process.env.S3_TEST_ENDPOINT === undefined && 's3rver has no UploadPartCopy' },
      async () => {
        const bucket = fixture.s3.newBucketName();
        const store = storeFor(bucket);
        const parted = storeFor(bucket, {}, { copyCutoff: 1024 });
        try {
          await store.ensureBucket();
          const meta = { mtime: '1795236643.713', mode: '33188' };
          await store.put({
            key: 'ws/large.bin',
            filePath: largePath,
            size: LARGE,
            metadata: meta,
          });
          const copied = await parted.copy({
            from: 'ws/large.bin',
            to: 'ws/copy.bin',
            size: LARGE,
          });
          assert.ok(
            (await localEtags(largePath, LARGE, copied.etag)).includes(copied.etag),
            `the ETag a local hash predicts: ${copied.etag}`,
          );
          const got = await collect(store, 'ws/copy.bin');
          assert.ok(got.body.equals(large));
          assert.deepEqual(got.metadata, meta);
        } finally {
          store.destroy();
          parted.destroy();
        }
      },
    );

    test('failures come back classified, with their code and retryability', async () => {
      const bucket = fixture.s3.newBucketName();
      const store = storeFor(bucket);
      const missingBucket = storeFor(fixture.s3.newBucketName());
      const wrongKey = storeFor(bucket, {
        S3_ACCESS_KEY_ID: 'NOT-A-KEY',
        S3_SECRET_ACCESS_KEY: 'nope',
      });
      try {
        await store.ensureBucket();
        for (const put of [
          { key: 'x/large', filePath: largePath, size: LARGE },
          { key: 'x/small', body: Buffer.from('a'), size: 1 },
        ]) {
          const noBucket = await rejection(missingBucket.put(put));
          assert.ok(
            isBucketspaceError(noBucket, 'S3_NO_SUCH_BUCKET'),
            `${put.key}: ${String(noBucket)}`,
          );
          assert.equal((noBucket as { retryable: boolean }).retryable, false);
          const denied = await rejection(wrongKey.put(put));
          assert.ok(isBucketspaceError(denied, 'S3_AUTH'), `${put.key}: ${String(denied)}`);
          const aborted = await rejection(store.put({ ...put, signal: AbortSignal.abort() }));
          assert.ok(isBucketspaceError(aborted, 'ABORTED'), `${put.key}: ${String(aborted)}`);
          // Regression: an abort with the caller's own reason (an Error) was classified S3_UNREACHABLE.
          const ownReason = await rejection(
            store.put({ ...put, signal: AbortSignal.abort(new Error('shutting down')) }),
          );
          assert.ok(isBucketspaceError(ownReason, 'ABORTED'), `${put.key}: ${String(ownReason)}`);
        }
        await store.put({ key: 'x/there', body: Buffer.from('t'), size: 1 });
        for (const signal of [AbortSignal.abort(), AbortSignal.abort(new Error('shutting down'))]) {
          const sink = new Writable({ write: (_c, _e, cb) => cb() });
          const got = await rejection(store.get({ key: 'x/there', writeTo: sink, signal }));
          assert.ok(isBucketspaceError(got, 'ABORTED'), `get: ${String(got)}`);
        }
        const gone = await rejection(
          store.put({ key: 'x/gone', filePath: join(dir, 'no-such-file'), size: LARGE }),
        );
        assert.ok(
          isBucketspaceError(gone, 'LOCAL_NOT_FOUND'),
          `a vanished file is a local error: ${String(gone)}`,
        );
        const denied = await rejection(wrongKey.list(''));
        assert.ok(isBucketspaceError(denied, 'S3_AUTH'), String(denied));
        const deniedHead = await rejection(wrongKey.head('x/small'));
        assert.ok(isBucketspaceError(deniedHead, 'S3_AUTH'), String(deniedHead));
        const noBucketLevel = await rejection(missingBucket.listLevel(''));
        assert.ok(isBucketspaceError(noBucketLevel, 'S3_NO_SUCH_BUCKET'), String(noBucketLevel));
        const missing = await rejection(collect(store, 'x/never-put'));
        assert.ok(isBucketspaceError(missing), String(missing));
        assert.equal((missing as { retryable: boolean }).retryable, false);
        const missingBytes = await rejection(store.getBytes({ key: 'x/never-put' }));
        assert.ok(isBucketspaceError(missingBytes), String(missingBytes));
        assert.equal((missingBytes as { retryable: boolean }).retryable, false);
        const abortedBytes = await rejection(
          store.getBytes({ key: 'x/there', signal: AbortSignal.abort() }),
        );
        assert.ok(isBucketspaceError(abortedBytes, 'ABORTED'), String(abortedBytes));
      } finally {
        store.destroy();
        missingBucket.destroy();
        wrongKey.destroy();
      }
    });
  });
}
