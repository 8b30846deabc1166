import type { LaunchCommand, MountEngine, MountOptions, MountSource, MountSpec } from './types.ts';

/**
 * s3fs-fuse, run in the foreground (-f) so its pid is the mount's. Keys go in
 * its environment (AWSACCESSKEYID / AWSSECRETACCESSKEY), never in argv; with
 * none, s3fs uses its own chain (~/.passwd-s3fs, /etc/passwd-s3fs, IAM role).
 */
export const s3fsEngine: MountEngine = {
  name: 's3fs',
  program: 's3fs',
  installHint: 'install s3fs (apt-get install s3fs, or brew install gromgit/fuse/s3fs-mac)',
  problems: s3fsProblems,
  command: s3fsCommand,
};

export function s3fsProblems(source: MountSource, options: MountOptions): string[] {
  const problems: string[] = [];
  if (source.kind === 'remote') {
    problems.push(`the rclone remote "${source.name}" can only be mounted with --engine rclone`);
  }
  if (options.excludes.length > 0) {
    problems.push('s3fs cannot hide paths: --exclude needs --engine rclone');
  }
  if (options.cacheSize !== null) {
    problems.push('s3fs has no cache size limit: --cache-size needs --engine rclone');
  }
  return problems;
}

export function s3fsCommand(
  spec: MountSpec,
  baseEnv: Readonly<Record<string, string | undefined>>,
): LaunchCommand {
  if (spec.source.kind !== 's3') throw new Error('s3fs mounts only S3 sources');
  const { endpoint, region, forcePathStyle } = spec.source;
  const o = spec.options;
  const opts = [
    `url=${endpoint ?? 'https://s3.amazonaws.com'}`,
    `endpoint=${region}`,
    ...(forcePathStyle ? ['use_path_request_style'] : []),
    ...(o.readOnly ? ['ro'] : []),
    ...(o.cacheMode !== 'off' ? [`use_cache=${spec.cacheDir}`] : []),
    ...(o.dirCacheMs !== null ? [`stat_cache_expire=${Math.ceil(o.dirCacheMs / 1000)}`] : []),
  ];
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(baseEnv)) {
    if (v === undefined || k === 'AWSACCESSKEYID' || k === 'AWSSECRETACCESSKEY') continue;
    env[k] = v;
  }
  if (spec.credentials) {
    env.AWSACCESSKEYID = spec.credentials.accessKeyId;
    env.AWSSECRETACCESSKEY = spec.credentials.secretAccessKey;
  }
  return {
    file: 's3fs',
    args: [spec.bucket, spec.mountPoint, '-f', ...opts.flatMap((x) => ['-o', x])],
    env,
  };
}
