import type { S3Config } from './s3-settings.ts';

/** Where and how to send signed requests: the bucket's base URL and the signing scope. */
export interface S3PutTarget {
  /** The bucket's base URL, e.g. `http://minio:9000/workspaces` or `https://b.s3.eu-west-1.amazonaws.com`. */
  baseUrl: URL;
  signingRegion: string;
  signingService: string;
}

/**
 * The target the SDK's endpoint rules give an explicit endpoint with
 * path-style URLs (MinIO, s3rver, most S3-compatible servers): the bucket as
 * the first path segment under the endpoint, SigV4 for `s3` in the configured
 * region (signed-target.test.ts holds it to the SDK's answer). Known without
 * loading the SDK, which costs a short command a tenth of a second of CPU
 * before its first request (decision 0070). Undefined elsewhere: AWS and
 * virtual-hosted endpoints are resolved by the SDK's rules.
 */
export function pathStyleTarget(
  config: Pick<S3Config, 'endpoint' | 'forcePathStyle' | 'region' | 'bucket'>,
): S3PutTarget | undefined {
  if (config.endpoint === undefined || !config.forcePathStyle) return undefined;
  const baseUrl = new URL(config.endpoint);
  if (baseUrl.search !== '' || baseUrl.hash !== '') return undefined;
  baseUrl.pathname = `${baseUrl.pathname.replace(/\/+$/, '')}/${encodeURIComponent(config.bucket)}`;
  return { baseUrl, signingRegion: config.region, signingService: 's3' };
}
