import { homedir, userInfo } from 'node:os';
import type { Logger } from '../common/logger.ts';
import { finishS3Config, S3_SETTINGS } from '../common/s3/s3-settings.ts';
import { configError, resolveAll } from '../common/settings.ts';
import { FuseHost } from './fuse-host.ts';
import { MountManager } from './mount-manager.ts';
import { MountRegistry } from './mount-registry.ts';
import { finishMountSettings, MOUNT_SETTINGS, type MountSettings } from './mount-settings.ts';
import { platformKind, type PlatformFacts } from './platform-defaults.ts';

/** The S3 settings that say where a bucket is (the bucket itself is named per mount). */
const S3_CONNECTION_SETTINGS = Object.fromEntries(
  Object.entries(S3_SETTINGS).filter(([key]) => key !== 'bucket'),
) as Omit<typeof S3_SETTINGS, 'bucket'>;

export interface MountContext {
  manager: MountManager;
  settings: MountSettings;
  close(): void;
}

export interface MountContextInput {
  env: Readonly<Record<string, string | undefined>>;
  /** CLI flags, keyed by setting key (mountDir, registry, engine, rcloneRemote, endpoint, region, logLevel). */
  flags?: Readonly<Record<string, unknown>>;
  logger: Logger;
  /** The FUSE device to require (tests point it elsewhere to see the error). */
  fuseDevice?: string;
}

export function platformFacts(env: MountContextInput['env']): PlatformFacts {
  return { platform: process.platform, env, home: homedir(), user: userInfo().username };
}

/** Resolve the settings (every problem listed at once) and open the registry. */
export function loadMountSettings(input: Pick<MountContextInput, 'env' | 'flags'>) {
  const [rawS3, rawMount] = resolveAll(S3_CONNECTION_SETTINGS, MOUNT_SETTINGS, {
    env: input.env,
    flags: input.flags,
  });
  const { config: s3, problems } = finishS3Config({ ...rawS3, bucket: '' });
  if (problems.length > 0) throw configError(problems);
  const facts = platformFacts(input.env);
  return { s3, settings: finishMountSettings(rawMount, facts), facts };
}

export function openMountContext(input: MountContextInput): MountContext {
  const { s3, settings, facts } = loadMountSettings(input);
  const uid = process.getuid?.();
  const registry = MountRegistry.open(settings.registry, { uid });
  const manager = new MountManager({
    registry,
    host: new FuseHost({
      kind: platformKind(facts),
      path: input.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      fuseDevice: input.fuseDevice,
    }),
    config: {
      mountDir: settings.mountDir,
      defaultRoot: settings.defaultRoot,
      home: facts.home,
      stateDir: settings.stateDir,
      defaultEngine: settings.engine,
      rcloneRemote: settings.rcloneRemote,
      startTimeoutMs: settings.startTimeoutMs,
      healthTimeoutMs: settings.healthTimeoutMs,
      uid,
    },
    s3: {
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: s3.forcePathStyle,
      credentials: s3.credentials,
    },
    baseEnv: Object.fromEntries(Object.entries(input.env).filter(([k]) => !k.startsWith('S3_'))),
    logger: input.logger.child({ component: 'mounts' }),
  });
  return { manager, settings, close: () => registry.close() };
}
