import type { S3Client } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestS3 } from '../../test/support/s3-server.ts';
import { PrerequisiteError, type BenchIo } from './bench-exit.ts';
import type { S3Endpoint } from './bench-s3.ts';
import { openTreeAndS3 } from './bench-setup.ts';
import { CommandRunner } from './command-runner.ts';
import { findRclone, RCLONE_INSTALL_HINT } from './rclone.ts';
import { SYNC_TREE_SPEC, type SyncTree } from './sync-tree.ts';

/** What the benchmarks on the sync tree start with. */
export interface TreeBench {
  rcloneVersion: string;
  tree: SyncTree;
  s3: TestS3;
  ep: S3Endpoint;
  client: S3Client;
  runner: CommandRunner;
  /** A temporary directory of this run. */
  scratch: string;
}

/**
 * rclone found (or a PrerequisiteError), the sync tree built or reused, the
 * S3 server with a client, a command runner and a scratch directory; each
 * cleaned up after the benchmark.
 */
export async function startTreeBench(
  { out, cleanup }: BenchIo,
  options: { treeDir: string; rebuild: boolean; scratchPrefix: string },
): Promise<TreeBench> {
  const rcloneVersion = await findRclone();
  if (!rcloneVersion) throw new PrerequisiteError(RCLONE_INSTALL_HINT);
  const { tree, s3, ep, client } = await openTreeAndS3({
    spec: SYNC_TREE_SPEC,
    dir: options.treeDir,
    rebuild: options.rebuild,
    out,
    cleanup,
  });
  const runner = await CommandRunner.create(cleanup);
  const scratch = await mkdtemp(join(tmpdir(), options.scratchPrefix));
  cleanup.defer(() => rm(scratch, { recursive: true, force: true }));
  return { rcloneVersion, tree, s3, ep, client, runner, scratch };
}
