import { execFile } from 'node:child_process';
import { DEFAULT_EXCLUDES, rclonePatterns } from '../../services/common/ignore/default-excludes.ts';
import type { S3Endpoint } from './bench-s3.ts';

/** The rclone remote the benchmarks define through environment variables. */
export const RCLONE_REMOTE = 'bench';

/**
 * rclone filters equal to bucketspace's default excludes, converted by the
 * one rule both use. The sync benchmark checks that both tools end up with the
 * same keys.
 */
export const RCLONE_EXCLUDES: readonly string[] = rclonePatterns(DEFAULT_EXCLUDES);

export function rcloneExcludeArgs(): string[] {
  return RCLONE_EXCLUDES.flatMap((p) => ['--exclude', p]);
}

export const RCLONE_INSTALL_HINT = [
  'rclone is not on PATH; the benchmark compares against it.',
  'Install it, then run the benchmark again:',
  '  Debian/Ubuntu:  sudo apt-get update && sudo apt-get install -y rclone',
  '  macOS:          brew install rclone',
  '  other systems:  https://rclone.org/install/',
].join('\n');

/**
 * rclone's environment: the `bench` remote defined by RCLONE_CONFIG_BENCH_*
 * only (no config file), and without AWS_CA_BUNDLE, which makes rclone 1.60
 * fail with LoadCustomCABundleError even for http endpoints.
 */
export function rcloneEnv(ep: S3Endpoint): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name === 'AWS_CA_BUNDLE' || name.startsWith('RCLONE_')) continue;
    env[name] = value;
  }
  const prefix = `RCLONE_CONFIG_${RCLONE_REMOTE.toUpperCase()}_`;
  return {
    ...env,
    RCLONE_CONFIG: '/dev/null',
    [`${prefix}TYPE`]: 's3',
    [`${prefix}PROVIDER`]: 'Other',
    [`${prefix}ENDPOINT`]: ep.endpoint,
    [`${prefix}ACCESS_KEY_ID`]: ep.accessKeyId,
    [`${prefix}SECRET_ACCESS_KEY`]: ep.secretAccessKey,
    [`${prefix}REGION`]: ep.region,
    [`${prefix}FORCE_PATH_STYLE`]: 'true',
  };
}

/** rclone's version line ("rclone v1.60.1-DEV"), or undefined when rclone is not installed. */
export function findRclone(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const env = { ...process.env };
    delete env.AWS_CA_BUNDLE;
    execFile('rclone', ['version'], { env, timeout: 10_000 }, (err, stdout) => {
      if (err) resolve(undefined);
      else
        resolve(
          stdout
            .split('\n')[0]
            ?.replace(/^rclone\s+/, '')
            .trim() ?? 'unknown',
        );
    });
  });
}
