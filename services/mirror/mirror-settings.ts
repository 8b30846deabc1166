import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { finishS3Config, S3_SETTINGS, type S3Config } from '../common/s3/s3-settings.ts';
import {
  configError,
  intSchema,
  resolveAll,
  setting,
  type SettingsOf,
} from '../common/settings.ts';
import { cacheDirFor } from '../common/state-dir.ts';
import { SYNC_SETTINGS, type MaxDelete } from '../sync/sync-settings.ts';
import { localPath } from './location.ts';

/** The mirror's settings (the library's options and the CLI's flags override them). */
export const MIRROR_SETTINGS = {
  cacheRoot: setting({
    env: 'MIRROR_CACHE_ROOT',
    flag: '--cache-root',
    description:
      'Where mirrored paths live locally unless a call names its own: <cache root>/<bucket>/<key>. What the mirror remembers about them is kept under it too (.bucketspace-state).',
    defaultText: '$XDG_CACHE_HOME/bucketspace/mirror or ~/.cache/bucketspace/mirror',
    schema: z.string().min(1).optional(),
  }),
  maxWorkers: setting({
    env: 'MIRROR_MAX_WORKERS',
    flag: '--max-workers',
    description: 'Transfers at once, downloads and uploads of one mirror together.',
    defaultText: '16',
    schema: intSchema(1, 256).default(16),
  }),
  maxDelete: setting({
    env: 'MIRROR_MAX_DELETE',
    flag: '--max-delete',
    description:
      'Most deletions one mirrored path may have in one run: a count (25) or a percentage (10%). Default: refuse when more than 50% and more than 10.',
    defaultText: '50% and >10',
    schema: SYNC_SETTINGS.maxDelete.schema,
  }),
  logLevel: SYNC_SETTINGS.logLevel,
};

/** The S3 settings but the bucket: every mirror call names its own. */
function withoutBucket<S extends { bucket: unknown }>(spec: S): Omit<S, 'bucket'> {
  const copy: Partial<S> = { ...spec };
  delete copy.bucket;
  return copy as Omit<S, 'bucket'>;
}
export const MIRROR_S3_SETTINGS = withoutBucket(S3_SETTINGS);

/** The S3 settings a mirror takes as options, by their keys (`endpoint`, `region`, ...). */
export type MirrorS3Options = {
  [K in keyof typeof MIRROR_S3_SETTINGS]?: string | number | boolean;
};

/** Everything a mirror runs with, resolved once when it opens. */
export interface MirrorSettings {
  cacheRoot: string;
  maxWorkers: number;
  maxDelete: MaxDelete;
  /** `LOG_LEVEL`, or undefined when neither it nor an option set it. */
  logLevel: SettingsOf<typeof MIRROR_SETTINGS>['logLevel'] | undefined;
  /** The S3 settings for one bucket. */
  s3For(bucket: string): S3Config;
}

/**
 * Resolves the S3 and mirror settings from the environment, overridden by
 * the given values (the library's options, the CLI's flags); throws
 * CONFIG_INVALID listing every problem at once.
 */
export function resolveMirrorSettings(input: {
  env: Readonly<Record<string, string | undefined>>;
  s3?: MirrorS3Options;
  mirror?: { cacheRoot?: string; maxWorkers?: number | string; maxDelete?: number | string };
  logLevel?: string;
}): MirrorSettings {
  const [rawS3, mirror] = resolveAll(MIRROR_S3_SETTINGS, MIRROR_SETTINGS, {
    env: input.env,
    flags: { ...input.s3, ...input.mirror, logLevel: input.logLevel },
  });
  // Checked now, so a bad key pair fails when the mirror opens rather than at its first call.
  const { problems } = finishS3Config({ ...rawS3, bucket: 'any' });
  if (problems.length > 0) throw configError(problems);
  return {
    cacheRoot: localPath(
      mirror.cacheRoot ?? join(cacheDirFor({ env: input.env, home: homedir() }), 'mirror'),
    ),
    maxWorkers: mirror.maxWorkers,
    maxDelete: mirror.maxDelete,
    logLevel: input.logLevel !== undefined || input.env.LOG_LEVEL ? mirror.logLevel : undefined,
    s3For: (bucket) => finishS3Config({ ...rawS3, bucket }).config,
  };
}
