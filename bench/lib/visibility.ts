import type { S3Client } from '@aws-sdk/client-s3';
import { headEtag } from './bench-s3.ts';
import { sleep } from './process-cleanup.ts';

/**
 * Polls HeadObject until the object's ETag is `md5` (the new content is
 * visible to readers). Returns the milliseconds from `startedAt`
 * (performance.now() when the save began), or undefined on timeout.
 */
export async function waitVisible(options: {
  client: S3Client;
  bucket: string;
  key: string;
  md5: string;
  startedAt: number;
  pollMs: number;
  timeoutMs: number;
}): Promise<number | undefined> {
  const deadline = options.startedAt + options.timeoutMs;
  while (performance.now() < deadline) {
    const etag = await headEtag(options.client, options.bucket, options.key);
    if (etag === options.md5) return performance.now() - options.startedAt;
    await sleep(options.pollMs);
  }
  return undefined;
}
