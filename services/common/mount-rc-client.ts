import { createHash } from 'node:crypto';
import { endpointUnder, HintSender, type ChangeNotifier, type HintRequest } from './hint-sender.ts';
import type { Logger } from './logger.ts';
import { TRASH_DIR } from './trash-names.ts';

/** The user of the mount's remote control unless MOUNT_RC_USER says otherwise. */
export const MOUNT_RC_DEFAULT_USER = 'bucketspace';

/**
 * The remote control password the mount and the sync share without anyone
 * handing it over: derived from the S3 secret both already hold (whoever has
 * that secret controls the bucket anyway). images/mount-rclone/rc-password.sh
 * derives the same value in the mount container; a test keeps them equal.
 */
export function mountRcPassword(s3SecretAccessKey: string): string {
  return createHash('sha256').update(`bucketspace-mount-rc:${s3SecretAccessKey}`).digest('hex');
}

export interface MountRcClientOptions {
  /** `MOUNT_RC_URL`: rclone's remote control of the bucket mount, e.g. `http://mount:5572`. */
  url: string;
  user: string;
  password: string;
  logger: Logger;
  /** Per request; default 2 s. */
  timeoutMs?: number;
}

/**
 * Tells the rclone mount of the bucket to read the changed workspaces again
 * (`vfs/refresh`, rclone's remote control since 1.43): first the bucket's top
 * level (workspaces that appeared or went), then each changed workspace's
 * whole tree, so the next look through the mount sees the change instead of
 * its directory cache for up to RCLONE_DIR_CACHE_TIME. A refresh updates the
 * cached entries in place; `vfs/forget` would drop them, and a reader still
 * holding an old entry then fails with EIO until the kernel looks it up again
 * (measured with rclone 1.60). Fire and forget, merged while in flight, a
 * failure warned about once per outage (HintSender): the mount then shows
 * the change when its cache expires.
 */
export class MountRcClient implements ChangeNotifier {
  private readonly sender: HintSender;

  constructor(options: MountRcClientOptions) {
    const endpoint = endpointUnder(options.url, 'vfs/refresh');
    const basic = Buffer.from(`${options.user}:${options.password}`).toString('base64');
    const call = (params: Record<string, string>): HintRequest => ({
      url: endpoint,
      init: {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/json' },
        body: JSON.stringify(params),
      },
    });
    this.sender = new HintSender({
      logger: options.logger,
      timeoutMs: options.timeoutMs,
      messages: {
        component: 'mount-hint',
        failing:
          'cannot tell the mount what changed (it shows the changes when its directory cache expires, RCLONE_DIR_CACHE_TIME)',
        recovered: 'the mount answers again',
        sent: 'told the mount to read the changed workspaces again',
      },
      requests: (workspaces) => refreshCalls(workspaces).map(call),
      problem: (res) => {
        if (res.status === 401) {
          return 'HTTP 401: MOUNT_RC_USER/MOUNT_RC_PASS are not the mount’s (both sides derive the password from S3_SECRET_ACCESS_KEY unless MOUNT_RC_PASS is set)';
        }
        if (res.status === 404) return 'HTTP 404: MOUNT_RC_URL is not an rclone remote control';
        return res.ok ? undefined : `HTTP ${res.status}`;
      },
    });
  }

  notifyChanged(names: readonly string[]): Promise<void> {
    return this.sender.notifyChanged(names);
  }

  /** Abandon what is in flight (the sync is stopping). */
  close(): void {
    this.sender.close();
  }
}

/**
 * The `vfs/refresh` calls for changed workspaces: the top level (no
 * parameter), then `dir`, `dir2`, ... with `recursive` (a workspace that is
 * gone is answered "file does not exist" in the result, which is right), the
 * trash among them: a batch's deletes land there, and the dashboard lists it
 * through the mount (one recursive listing of a small prefix; "does not
 * exist" while it is empty).
 * Everything changed (`[]`): the top level, then every tree under it.
 */
export function refreshCalls(workspaces: readonly string[]): Array<Record<string, string>> {
  if (workspaces.length === 0) return [{}, { recursive: 'true' }];
  const trees = [...workspaces, TRASH_DIR];
  const dirs = Object.fromEntries(trees.map((w, i) => [i === 0 ? 'dir' : `dir${i + 1}`, w]));
  return [{}, { ...dirs, recursive: 'true' }];
}
