import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const NOBODY = 65534;

/**
 * Root reads every file, so tests of unreadable files run code as `nobody`.
 * That needs root, and a checkout that `nobody` can read (not the case when
 * the repository sits under a private directory): otherwise the reason to skip.
 */
export function unprivilegedSkipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root to run code as an unprivileged user';
  const probe = fileURLToPath(new URL('../../services/cli.js', import.meta.url));
  const res = spawnSync(
    process.execPath,
    ['-e', `require('node:fs').accessSync(${JSON.stringify(probe)})`],
    {
      uid: NOBODY,
      gid: NOBODY,
      encoding: 'utf8',
    },
  );
  return res.status === 0
    ? false
    : `the checkout is not readable by uid ${NOBODY}: ${res.stderr.trim().split('\n')[0] ?? ''}`;
}
