import {
  CreateBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { randomBytes } from 'node:crypto';
import { normalizeEtag } from '../../services/common/s3/etag.ts';
import { startTestS3, type TestS3 } from '../../test/support/s3-server.ts';

/** Where and how to reach an S3 API. */
export interface S3Endpoint {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface ObjectSummary {
  size: number;
  etag: string;
}

const BENCH_TO_TEST_ENV: Readonly<Record<string, string>> = {
  S3_BENCH_ENDPOINT: 'S3_TEST_ENDPOINT',
  S3_BENCH_ACCESS_KEY_ID: 'S3_TEST_ACCESS_KEY_ID',
  S3_BENCH_SECRET_ACCESS_KEY: 'S3_TEST_SECRET_ACCESS_KEY',
  S3_BENCH_REGION: 'S3_TEST_REGION',
};

/**
 * The S3 server for a benchmark: s3rver in a child process on 127.0.0.1 by
 * default, or a real S3/MinIO given by S3_BENCH_ENDPOINT (+ _ACCESS_KEY_ID,
 * _SECRET_ACCESS_KEY, _REGION) or the test suite's S3_TEST_* variables.
 */
export function startBenchS3(): Promise<TestS3> {
  for (const [from, to] of Object.entries(BENCH_TO_TEST_ENV)) {
    const value = process.env[from];
    if (value !== undefined && value !== '') process.env[to] = value;
  }
  return startTestS3();
}

export function endpointOf(s3: TestS3): S3Endpoint {
  return {
    endpoint: s3.endpoint,
    region: s3.region,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
  };
}

/** A fresh, valid bucket name such as `bench-ours-1a2b3c4d`. */
export function benchBucketName(label: string): string {
  return `bench-${label}-${randomBytes(4).toString('hex')}`.toLowerCase();
}

/** The benchmark's own S3 client (to list, check and poll), set up for s3rver's quirks. */
export function createS3Client(ep: S3Endpoint): S3Client {
  return new S3Client({
    endpoint: ep.endpoint,
    region: ep.region,
    credentials: { accessKeyId: ep.accessKeyId, secretAccessKey: ep.secretAccessKey },
    forcePathStyle: true,
    maxAttempts: 3,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: new NodeHttpHandler({
      connectionTimeout: 5_000,
      requestTimeout: 60_000,
      httpAgent: { keepAlive: true, maxSockets: 16 },
    }),
  });
}

export async function createBucket(client: S3Client, bucket: string): Promise<void> {
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
}

/** Every object in the bucket: key -> size and ETag (quotes stripped, lower case). */
export async function listObjects(
  client: S3Client,
  bucket: string,
): Promise<Map<string, ObjectSummary>> {
  const out = new Map<string, ObjectSummary>();
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token, MaxKeys: 1000 }),
    );
    for (const obj of page.Contents ?? []) {
      if (obj.Key !== undefined)
        out.set(obj.Key, { size: obj.Size ?? 0, etag: normalizeEtag(obj.ETag) });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return out;
}

/** The object's ETag, or undefined when it does not exist (or the server did not answer). */
export async function headEtag(
  client: S3Client,
  bucket: string,
  key: string,
): Promise<string | undefined> {
  try {
    const res = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), {
      abortSignal: AbortSignal.timeout(5_000),
    });
    return normalizeEtag(res.ETag);
  } catch {
    return undefined;
  }
}

/**
 * A few hundred small PUTs and a listing on a bucket of their own, so that the
 * first tool timed does not pay for the server's cold start (JIT, caches).
 */
export async function warmUp(client: S3Client, objects = 500): Promise<void> {
  const bucket = benchBucketName('warmup');
  await createBucket(client, bucket);
  const limit = pLimit(16);
  const body = Buffer.alloc(2048, 'x');
  await Promise.all(
    Array.from({ length: objects }, (_, i) =>
      limit(() =>
        client.send(
          new PutObjectCommand({ Bucket: bucket, Key: `warm/${i % 10}/${i}.txt`, Body: body }),
        ),
      ),
    ),
  );
  await listObjects(client, bucket);
}
