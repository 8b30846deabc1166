import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import pLimit from 'p-limit';
import { dirname, join, relative } from 'node:path';
import { silentLogger } from '../../services/common/logger.ts';
import type { MirrorEvent, MirrorOptions } from '../../services/mirror/index.ts';
import { listKeys, readObject } from './bucket.ts';
import type { S3Fixture } from './s3-fixture.ts';

/** One mirror test's bucket and temporary directories, against the file's test S3. */
export interface MirrorSandbox {
  bucket: string;
  /** A temporary directory of this test (the cache root is `<dir>/cache`). */
  dir: string;
  cacheRoot: string;
  /** Options for `mirror()` against the test S3 (no progress, silent, the events collected). */
  options(extra?: Partial<MirrorOptions>): MirrorOptions;
  /** The S3 variables of the test server, as the CLI and child pipelines take them. */
  env(): Record<string, string>;
  events: MirrorEvent[];
  put(objects: Record<string, string | Buffer>): Promise<void>;
  keys(prefix?: string): Promise<string[]>;
  read(key: string): Promise<string>;
  /** Write local files: { 'a/b.txt': 'content' } under `root`. */
  write(root: string, files: Record<string, string | Buffer>): Promise<void>;
  /** Every file under `root`, relative, sorted, with its content. */
  tree(root: string): Promise<Record<string, string>>;
  remove(): Promise<void>;
}

export async function mirrorSandbox(fixture: S3Fixture): Promise<MirrorSandbox> {
  const bucket = fixture.s3.newBucketName();
  await fixture.client.send(new CreateBucketCommand({ Bucket: bucket }));
  const dir = await mkdtemp(join(tmpdir(), 'bucketspace-mirror-'));
  const cacheRoot = join(dir, 'cache');
  const events: MirrorEvent[] = [];
  const s3 = fixture.s3;
  const sandbox: MirrorSandbox = {
    bucket,
    dir,
    cacheRoot,
    events,
    env: () => {
      // Every call names its bucket: no S3_BUCKET.
      const env = s3.env(bucket);
      delete env.S3_BUCKET;
      return env;
    },
    options: (extra = {}) => ({
      cacheRoot,
      showProgress: false,
      env: sandbox.env(),
      logger: silentLogger(),
      onEvent: (e) => events.push(e),
      ...extra,
    }),
    async put(objects) {
      const limit = pLimit(16);
      await Promise.all(
        Object.entries(objects).map(([key, body]) =>
          limit(() =>
            fixture.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body })),
          ),
        ),
      );
    },
    keys: (prefix = '') => listKeys(fixture.client, bucket, prefix),
    read: (key) => readObject(fixture.client, bucket, key),
    async write(root, files) {
      for (const [rel, body] of Object.entries(files)) {
        await mkdir(dirname(join(root, rel)), { recursive: true });
        await writeFile(join(root, rel), body);
      }
    },
    async tree(root) {
      const out: Record<string, string> = {};
      for (const e of await readdir(root, { withFileTypes: true, recursive: true })) {
        if (!e.isFile()) continue;
        const abs = join(e.parentPath, e.name);
        out[relative(root, abs)] = await readFile(abs, 'utf8');
      }
      return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
  return sandbox;
}

/** Runs `fn` with a fresh sandbox, removed afterwards. */
export async function withMirrorSandbox(
  fixture: S3Fixture,
  fn: (box: MirrorSandbox) => Promise<void>,
): Promise<void> {
  const box = await mirrorSandbox(fixture);
  try {
    await fn(box);
  } finally {
    await box.remove();
  }
}

/** The reports of the runs that ended, in order (from the collected events). */
export function reports(events: readonly MirrorEvent[]) {
  return events.flatMap((e) => (e.type === 'end' ? [e.report] : []));
}
