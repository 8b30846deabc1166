import { after, before } from 'node:test';
import type { S3Client } from '@aws-sdk/client-s3';
import { testClient } from './bucket.ts';
import { startTestS3, type TestS3 } from './s3-server.ts';
import type { TempTree } from './workspace-tree.ts';

/** The S3 server of one test file, its checking client, and the CLI environment for a tree. */
export interface S3Fixture {
  readonly s3: TestS3;
  readonly client: S3Client;
  env(tree: TempTree, bucket: string, extra?: Record<string, string>): Record<string, string>;
}

/** Start the test S3 server before the file's tests and stop it after; call at top level. */
export function useTestS3(defaults: Record<string, string> = {}): S3Fixture {
  let s3: TestS3 | undefined;
  let client: S3Client | undefined;
  before(async () => {
    s3 = await startTestS3();
    client = testClient(s3);
  });
  after(async () => {
    client?.destroy();
    await s3?.close();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the test S3 server is not started yet');
    return value;
  };
  return {
    get s3() {
      return started(s3);
    },
    get client() {
      return started(client);
    },
    env: (tree, bucket, extra = {}) => ({
      ...started(s3).env(bucket),
      WORKSPACES_DIR: tree.workspacesDir,
      SYNC_STATE_DIR: tree.stateDir,
      ...defaults,
      ...extra,
    }),
  };
}
