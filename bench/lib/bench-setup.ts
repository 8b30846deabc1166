import type { S3Client } from '@aws-sdk/client-s3';
import type { TestS3 } from '../../test/support/s3-server.ts';
import { createS3Client, endpointOf, startBenchS3, type S3Endpoint } from './bench-s3.ts';
import type { ProcessCleanup } from './process-cleanup.ts';
import { prepareSyncTree, type SyncTree, type TreeSpec } from './sync-tree.ts';

/** A benchmark's tree (built once, then reused) and its S3 server with a client; closed by `cleanup`. */
export async function openTreeAndS3(options: {
  spec: TreeSpec;
  dir: string;
  rebuild: boolean;
  out: NodeJS.WriteStream;
  cleanup: ProcessCleanup;
}): Promise<{ tree: SyncTree; s3: TestS3; ep: S3Endpoint; client: S3Client }> {
  const { out, cleanup } = options;
  const prepared = await prepareSyncTree(options);
  out.write(
    prepared.built
      ? `built the tree in ${prepared.seconds.toFixed(1)} s\n`
      : `reusing the tree in ${options.dir} (--rebuild to build it again)\n`,
  );
  const s3 = await startBenchS3();
  cleanup.defer(() => s3.close());
  const ep = endpointOf(s3);
  const client = createS3Client(ep);
  cleanup.defer(() => client.destroy());
  return { tree: prepared.tree, s3, ep, client };
}
