import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { S3Client } from '@aws-sdk/client-s3';
import { pathStyleTarget } from './signed-target.ts';

/** What the SDK's endpoint rules say for the same settings (the authority pathStyleTarget follows). */
function sdkTarget(endpoint: string, region: string, bucket: string) {
  const client = new S3Client({
    region,
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
  });
  try {
    const cfg = client.config;
    const resolved = cfg.endpointProvider({
      Bucket: bucket,
      Region: region,
      UseFIPS: false,
      UseDualStack: false,
      ForcePathStyle: true,
      Accelerate: false,
      Endpoint: endpoint,
    });
    const scheme = (
      resolved.properties?.authSchemes as { signingName: string; signingRegion: string }[]
    )[0];
    return {
      baseUrl: resolved.url.href,
      signingRegion: scheme?.signingRegion,
      signingService: scheme?.signingName,
    };
  } finally {
    client.destroy();
  }
}

describe('pathStyleTarget', () => {
  test('an explicit path-style endpoint goes where the SDK endpoint rules send it', () => {
    for (const [endpoint, region, bucket] of [
      ['http://127.0.0.1:9000', 'us-east-1', 'workspaces'],
      ['http://MinIO:9000/', 'eu-west-1', 'my.bucket'],
      ['https://s3.example.com/base/path/', 'auto', 'b-1'],
      ['https://s3.example.com/base', 'us-east-1', 'x.y.z'],
      ['http://[::1]:9000', 'us-east-1', 'abc'],
    ] as const) {
      const ours = pathStyleTarget({ endpoint, region, bucket, forcePathStyle: true });
      assert.ok(ours, endpoint);
      assert.deepEqual(
        { ...ours, baseUrl: ours.baseUrl.href },
        sdkTarget(endpoint, region, bucket),
        endpoint,
      );
    }
  });

  test('AWS and virtual-hosted endpoints are left to the SDK', () => {
    const base = { region: 'us-east-1', bucket: 'b' };
    assert.equal(
      pathStyleTarget({ ...base, endpoint: undefined, forcePathStyle: false }),
      undefined,
    );
    assert.equal(
      pathStyleTarget({ ...base, endpoint: undefined, forcePathStyle: true }),
      undefined,
    );
    assert.equal(
      pathStyleTarget({ ...base, endpoint: 'https://s3.example.com', forcePathStyle: false }),
      undefined,
    );
  });
});
