import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import type { TestS3 } from './s3-server.ts';

/** A plain SDK client for asserting on the bucket's contents independently of the code under test. */
export function testClient(s3: TestS3): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export async function listKeys(client: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

export async function readObject(client: S3Client, bucket: string, key: string): Promise<string> {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await res.Body?.transformToString('utf8')) ?? '';
}

export async function headObject(client: S3Client, bucket: string, key: string) {
  return client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
}

/** The keys of the workspaces: everything but the trash (`.trash/`). */
export async function workspaceKeys(client: S3Client, bucket: string): Promise<string[]> {
  return (await listKeys(client, bucket)).filter((k) => !k.startsWith('.trash/'));
}

/**
 * The trash's keys with each entry's name (its time) shown as `<entry>`:
 * `.trash/app/<entry>/a.js`. Sorted.
 */
export async function trashKeys(client: S3Client, bucket: string): Promise<string[]> {
  return (await listKeys(client, bucket, '.trash/'))
    .map((k) => k.replace(/^(\.trash\/[^/]+\/)[^/]+\//, '$1<entry>/'))
    .sort();
}
