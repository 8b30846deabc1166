import type { LaunchCommand, MountEngine, MountOptions, MountSource, MountSpec } from './types.ts';

/** The remote name bucketspace defines through the environment (RCLONE_CONFIG_BUCKETSPACE_*). */
export const RCLONE_REMOTE = 'bucketspace';
const PREFIX = `RCLONE_CONFIG_${RCLONE_REMOTE.toUpperCase()}_`;

/**
 * rclone mount: the default engine. The S3 remote is defined in rclone's
 * environment (RCLONE_CONFIG_BUCKETSPACE_TYPE=s3, keys, endpoint...) so no
 * secret is ever in argv (`ps`); or an rclone remote the user configured.
 * AWS_CA_BUNDLE is removed from rclone's environment: rclone 1.60 refuses to
 * start with it set (LoadCustomCABundleError); it becomes --ca-cert instead.
 */
export const rcloneEngine: MountEngine = {
  name: 'rclone',
  program: 'rclone',
  installHint:
    'install rclone (apt-get install rclone, brew install rclone, or https://rclone.org/install/)',
  problems: () => [],
  command: rcloneCommand,
};

export function rcloneCommand(
  spec: MountSpec,
  baseEnv: Readonly<Record<string, string | undefined>>,
): LaunchCommand {
  const remote = spec.source.kind === 'remote' ? spec.source.name : RCLONE_REMOTE;
  const caBundle = baseEnv.AWS_CA_BUNDLE;
  const args = [
    'mount',
    `${remote}:${spec.bucket}`,
    spec.mountPoint,
    ...optionArgs(spec.options),
    '--cache-dir',
    spec.cacheDir,
    ...(caBundle && spec.source.kind === 's3' && usesTls(spec.source)
      ? ['--ca-cert', caBundle]
      : []),
    '--log-level',
    'NOTICE',
  ];
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(baseEnv)) {
    if (v === undefined || k === 'AWS_CA_BUNDLE' || k.startsWith(PREFIX)) continue;
    env[k] = v;
  }
  if (spec.source.kind === 's3') Object.assign(env, remoteEnv(spec.source, spec.credentials));
  return { file: 'rclone', args, env };
}

function usesTls(source: Extract<MountSource, { kind: 's3' }>): boolean {
  return source.endpoint === null || source.endpoint.startsWith('https:');
}

export function optionArgs(o: MountOptions): string[] {
  return [
    '--vfs-cache-mode',
    o.cacheMode,
    ...(o.cacheSize !== null ? ['--vfs-cache-max-size', o.cacheSize] : []),
    ...(o.dirCacheMs !== null ? ['--dir-cache-time', `${o.dirCacheMs}ms`] : []),
    ...(o.readOnly ? ['--read-only'] : []),
    ...o.excludes.flatMap((p) => ['--exclude', p]),
  ];
}

function remoteEnv(
  source: Extract<MountSource, { kind: 's3' }>,
  credentials: MountSpec['credentials'],
): Record<string, string> {
  const env: Record<string, string> = {
    [`${PREFIX}TYPE`]: 's3',
    [`${PREFIX}PROVIDER`]: source.endpoint === null ? 'AWS' : 'Other',
    [`${PREFIX}REGION`]: source.region,
    [`${PREFIX}FORCE_PATH_STYLE`]: String(source.forcePathStyle),
  };
  if (source.endpoint !== null) env[`${PREFIX}ENDPOINT`] = source.endpoint;
  if (credentials) {
    env[`${PREFIX}ACCESS_KEY_ID`] = credentials.accessKeyId;
    env[`${PREFIX}SECRET_ACCESS_KEY`] = credentials.secretAccessKey;
  } else {
    // The AWS default chain: AWS_ACCESS_KEY_ID..., profiles, instance roles.
    env[`${PREFIX}ENV_AUTH`] = 'true';
  }
  return env;
}
