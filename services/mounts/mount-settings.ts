import { z } from 'zod';
import { dirname, resolve } from 'node:path';
import { durationSchema, setting, type SettingsOf } from '../common/settings.ts';
import {
  defaultMountDir,
  defaultRegistryPath,
  defaultRoot,
  type PlatformFacts,
} from './platform-defaults.ts';
import { ENGINE_NAMES, type EngineName } from './types.ts';

const path = () =>
  z
    .string()
    .min(1)
    .optional()
    .transform((p) => (p === undefined ? undefined : resolve(p)));

/** Settings of the mount manager (with the S3_* settings for where buckets come from). */
export const MOUNT_SETTINGS = {
  mountDir: setting({
    env: 'MOUNT_DIR',
    flag: '--mount-dir',
    description: 'Where buckets are really mounted, one directory per bucket.',
    defaultText: '/tmp/<user>/bucketspace',
    schema: path(),
  }),
  registry: setting({
    env: 'MOUNT_REGISTRY',
    flag: '--registry',
    description:
      'The SQLite registry of mounts, links, state and failures (no secrets). Mount logs and caches sit beside it.',
    defaultText:
      '$XDG_STATE_HOME/bucketspace/mounts.db or ~/.local/state/bucketspace/mounts.db (/tmp/<user>/bucketspace-state/mounts.db in a SLURM job)',
    schema: path(),
  }),
  defaultRoot: setting({
    env: 'MOUNT_DEFAULT_ROOT',
    description: 'Where the <root>/<bucket> symlink goes when no --root is given.',
    defaultText: '~/s3_buckets (/tmp/<user>/s3_buckets in a SLURM job)',
    schema: path(),
  }),
  engine: setting({
    env: 'MOUNT_ENGINE',
    flag: '--engine',
    description: 'FUSE client for new mounts: rclone or s3fs.',
    defaultText: 'rclone',
    schema: z.enum(ENGINE_NAMES as [EngineName, ...EngineName[]]).default('rclone'),
  }),
  rcloneRemote: setting({
    env: 'MOUNT_RCLONE_REMOTE',
    flag: '--remote',
    description:
      'Mount new buckets from this rclone remote (configured in rclone.conf) instead of the S3_* settings.',
    defaultText: '(the S3_* settings)',
    schema: z
      .string()
      .regex(/^[\w.-][\w. -]*$/, { error: 'must be an rclone remote name' })
      .optional(),
  }),
  healthInterval: setting({
    env: 'MOUNT_HEALTH_INTERVAL',
    description: 'Daemon: how often each mount is checked (a timed stat) and remounted if stale.',
    defaultText: '10s',
    schema: durationSchema(100).default(10_000),
  }),
  healthTimeout: setting({
    env: 'MOUNT_HEALTH_TIMEOUT',
    description: 'How long the health stat may take before the mount counts as hung.',
    defaultText: '5s',
    schema: durationSchema(100).default(5_000),
  }),
  startTimeout: setting({
    env: 'MOUNT_START_TIMEOUT',
    description: 'How long a new mount may take to answer before it counts as failed.',
    defaultText: '30s',
    schema: durationSchema(1000).default(30_000),
  }),
  logLevel: setting({
    env: 'LOG_LEVEL',
    flag: '--log-level',
    description: 'trace, debug, info, warn, error or silent.',
    defaultText: 'info',
    schema: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  }),
};

export type RawMountSettings = SettingsOf<typeof MOUNT_SETTINGS>;

export interface MountSettings {
  mountDir: string;
  registry: string;
  /** Logs and caches of mount processes: beside the registry. */
  stateDir: string;
  defaultRoot: string;
  engine: EngineName;
  rcloneRemote: string | undefined;
  healthIntervalMs: number;
  healthTimeoutMs: number;
  startTimeoutMs: number;
  logLevel: RawMountSettings['logLevel'];
}

/** Fill the platform defaults (pure: the facts are gathered in main). */
export function finishMountSettings(raw: RawMountSettings, facts: PlatformFacts): MountSettings {
  const registry = raw.registry ?? defaultRegistryPath(facts);
  return {
    mountDir: raw.mountDir ?? defaultMountDir(facts),
    registry,
    stateDir: dirname(registry),
    defaultRoot: raw.defaultRoot ?? defaultRoot(facts),
    engine: raw.engine,
    rcloneRemote: raw.rcloneRemote,
    healthIntervalMs: raw.healthInterval,
    healthTimeoutMs: raw.healthTimeout,
    startTimeoutMs: raw.startTimeout,
    logLevel: raw.logLevel,
  };
}
