import { z } from 'zod';
import { resolve } from 'node:path';
import { MOUNT_RC_DEFAULT_USER } from '../common/mount-rc-client.ts';
import { booleanSchema, durationSchema, intSchema, setting } from '../common/settings.ts';
import { defaultStateDir } from '../common/state-dir.ts';

/** `n` or `n%`: the most deletions one workspace may have in one run. */
export type MaxDelete =
  { kind: 'count'; value: number } | { kind: 'percent'; value: number } | { kind: 'default' };

export function parseMaxDelete(text: string): MaxDelete | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(%)?\s*$/.exec(text);
  if (!m) return undefined;
  const value = Number(m[1]);
  if (m[2]) return value <= 100 ? { kind: 'percent', value } : undefined;
  return Number.isInteger(value) ? { kind: 'count', value } : undefined;
}

export const SYNC_SETTINGS = {
  workspacesDir: setting({
    env: 'WORKSPACES_DIR',
    flag: '--workspaces-dir',
    description: 'Local directory whose subdirectories are the workspaces.',
    defaultText: './workspaces',
    schema: z
      .string()
      .min(1)
      .default('./workspaces')
      .transform((p) => resolve(p)),
  }),
  concurrency: setting({
    env: 'SYNC_CONCURRENCY',
    flag: '--concurrency',
    description: 'Transfers running at once.',
    defaultText: '32',
    schema: intSchema(1, 256).default(32),
  }),
  maxDelete: setting({
    env: 'SYNC_MAX_DELETE',
    flag: '--max-delete',
    description:
      'Refuse to delete more than this per workspace in one run: a count (25) or a percentage (10%). Default: refuse when more than 50% of a workspace and more than 10 objects.',
    defaultText: '50% and >10',
    schema: z
      .union([z.string(), z.number()])
      .optional()
      .transform((v, ctx): MaxDelete => {
        if (v === undefined) return { kind: 'default' };
        const parsed = parseMaxDelete(String(v));
        if (!parsed) {
          ctx.addIssue({
            code: 'custom',
            message: 'must be a count like 25 or a percentage like 10%',
          });
          return z.NEVER;
        }
        return parsed;
      }),
  }),
  deleteMissingWorkspaces: setting({
    env: 'SYNC_DELETE_MISSING_WORKSPACES',
    flag: '--delete-missing-workspaces',
    description:
      'A workspace whose local directory is gone is removed from the bucket (and so from the monitor): its objects move to the trash, restorable for SYNC_TRASH_RETENTION. Refused when several go at once or none is left. false (or --no-delete-missing-workspaces): keep such prefixes in the bucket, reported on every run (the default before).',
    defaultText: 'true',
    schema: booleanSchema().default(true),
  }),
  trashRetention: setting({
    env: 'SYNC_TRASH_RETENTION',
    flag: '--trash-retention',
    description:
      'How long the objects the sync removes stay in the trash (.trash/<workspace>/<time>/ in the bucket), restorable with `sync restore`; each full sync purges older entries. 0: no trash, removed objects are deleted at once.',
    defaultText: '7d',
    schema: durationSchema(0).default(7 * 86_400_000),
  }),
  extraExcludes: setting({
    env: 'SYNC_EXCLUDE',
    flag: '--exclude',
    description:
      'Extra gitignore-style patterns for every workspace, comma-separated (after the defaults, before .gitignore files).',
    defaultText: '(none)',
    schema: z
      .union([z.string(), z.array(z.string())])
      .optional()
      .transform((v) =>
        (Array.isArray(v) ? v : (v ?? '').split(',')).map((s) => s.trim()).filter((s) => s !== ''),
      ),
  }),
  reconcileInterval: setting({
    env: 'SYNC_RECONCILE_INTERVAL',
    description: 'Watch mode: how often a full reconcile runs to catch missed events.',
    defaultText: '5m',
    schema: durationSchema(1000).default(5 * 60_000),
  }),
  debounce: setting({
    env: 'SYNC_DEBOUNCE',
    description:
      'Watch mode: quiet time that closes a burst of changes into one batch (a batch never waits more than 10x this).',
    defaultText: '100ms',
    schema: durationSchema(0).default(100),
  }),
  shutdownTimeout: setting({
    env: 'SYNC_SHUTDOWN_TIMEOUT',
    description:
      'On SIGTERM, how long in-flight uploads may take to finish before they are aborted.',
    defaultText: '10s',
    schema: durationSchema(0).default(10_000),
  }),
  stateDir: setting({
    env: 'SYNC_STATE_DIR',
    flag: '--state-dir',
    description:
      'Where the sync remembers what it uploaded (size, times, ETag per file), so an unchanged sync needs one listing and no reads. Safe to delete.',
    defaultText: '$XDG_STATE_HOME/bucketspace or ~/.local/state/bucketspace',
    schema: z
      .string()
      .optional()
      .transform((p) => resolve(p ?? defaultStateDir())),
  }),
  monitorUrl: setting({
    env: 'MONITOR_URL',
    description:
      "The monitor's admin origin (MONITOR_ADMIN_PORT) to tell which workspaces changed after each batch (POST /api/hooks/changed), so it rescans at once; unset means the monitor finds changes at its next scan.",
    defaultText: '(unset)',
    schema: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL like http://monitor:8081' })
      .optional(),
  }),
  monitorToken: setting({
    env: 'MONITOR_TOKEN',
    description:
      "The monitor's token (it guards the monitor's dashboard, API and metrics). The sync sends it as a bearer token with the hook; required with MONITOR_URL.",
    defaultText: '(unset)',
    secret: true,
    schema: z.string().min(1).optional(),
  }),
  mountRcUrl: setting({
    env: 'MOUNT_RC_URL',
    description:
      "The rclone remote control of the bucket's mount (`rclone mount --rc`, e.g. http://mount:5572): after each batch the sync tells it to read the changed workspaces again (vfs/refresh), so the mount shows the change at once instead of after RCLONE_DIR_CACHE_TIME. Unset: no such hint.",
    defaultText: '(unset)',
    schema: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL like http://mount:5572' })
      .optional(),
  }),
  mountRcUser: setting({
    env: 'MOUNT_RC_USER',
    description: "User of the mount's remote control (--rc-user).",
    defaultText: MOUNT_RC_DEFAULT_USER,
    schema: z.string().min(1).default(MOUNT_RC_DEFAULT_USER),
  }),
  mountRcPass: setting({
    env: 'MOUNT_RC_PASS',
    description:
      "Password of the mount's remote control (--rc-pass). Default: derived from S3_SECRET_ACCESS_KEY, as the mount image derives it, so nothing has to be handed over.",
    defaultText: '(derived from S3_SECRET_ACCESS_KEY)',
    secret: true,
    schema: z.string().min(1).optional(),
  }),
  logLevel: setting({
    env: 'LOG_LEVEL',
    flag: '--log-level',
    description: 'trace, debug, info, warn, error or silent.',
    defaultText: 'info',
    schema: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  }),
};
