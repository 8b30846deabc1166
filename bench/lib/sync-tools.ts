import { fileURLToPath } from 'node:url';
import type { S3Endpoint } from './bench-s3.ts';
import type { CommandSpec } from './command-runner.ts';
import { RCLONE_REMOTE, rcloneEnv, rcloneExcludeArgs } from './rclone.ts';

export const CLI = fileURLToPath(new URL('../../services/cli.js', import.meta.url));

export type ToolId = 'ours' | 'rclone-default' | 'rclone-fastest' | 'rclone-size-only';

/** Where one tool syncs to in one series of runs. */
export interface SyncTarget {
  workspacesDir: string;
  bucket: string;
  endpoint: S3Endpoint;
  /** bucketspace's SYNC_STATE_DIR (fresh per series); unused by rclone. */
  stateDir: string;
}

export interface SyncTool {
  id: ToolId;
  label: string;
  /** The exact flags, for the report. */
  flags: string;
  /** False for configurations that miss changes (shown, but labelled, never a goal baseline). */
  correct: boolean;
  /** Why these flags, printed under the flags. */
  note?: string;
  command(target: SyncTarget): CommandSpec;
}

/** Settings that would change bucketspace's behaviour if inherited from the caller's shell. */
const OUR_SETTINGS = /^(S3_|SYNC_|AWS_|WORKSPACES_DIR$|LOG_LEVEL$|XDG_STATE_HOME$)/;

export function bucketspaceEnv(target: SyncTarget): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env))
    if (!OUR_SETTINGS.test(name)) env[name] = value;
  return {
    ...env,
    S3_ENDPOINT: target.endpoint.endpoint,
    S3_REGION: target.endpoint.region,
    S3_ACCESS_KEY_ID: target.endpoint.accessKeyId,
    S3_SECRET_ACCESS_KEY: target.endpoint.secretAccessKey,
    S3_BUCKET: target.bucket,
    WORKSPACES_DIR: target.workspacesDir,
    SYNC_STATE_DIR: target.stateDir,
  };
}

const ours: SyncTool = {
  id: 'ours',
  label: 'bucketspace',
  flags: 'sync --json (defaults: 32 transfers)',
  correct: true,
  command: (t) => ({
    command: process.execPath,
    args: [CLI, 'sync', '--json'],
    env: bucketspaceEnv(t),
  }),
};

function rcloneTool(
  id: ToolId,
  label: string,
  extra: readonly string[],
  correct: boolean,
  note?: string,
): SyncTool {
  return {
    id,
    label,
    flags:
      extra.length > 0 ? extra.join(' ') : '(defaults: --transfers 4 --checkers 8, size + modtime)',
    correct,
    note,
    command: (t) => ({
      command: 'rclone',
      args: [
        'sync',
        t.workspacesDir,
        `${RCLONE_REMOTE}:${t.bucket}`,
        ...rcloneExcludeArgs(),
        ...extra,
      ],
      env: rcloneEnv(t.endpoint),
    }),
  };
}

/**
 * rclone's fastest flags that still catch every change (see docs/benchmarks.md):
 * one recursive listing, MD5 against the listed ETag instead of a HEAD per
 * object for its mtime, 16 transfers (32 and 64 were no faster here), and no HEAD after each
 * upload (rclone still sends Content-MD5, so the server verifies every
 * single-part PUT; bucketspace does not HEAD after uploads either).
 */
export const RCLONE_FASTEST_FLAGS = [
  '--fast-list',
  '--checksum',
  '--transfers',
  '16',
  '--checkers',
  '16',
  '--s3-no-head',
] as const;

/** The tools compared, in the order they run in every phase. */
export function syncTools(options: { includeSizeOnly: boolean }): SyncTool[] {
  const tools = [
    ours,
    rcloneTool('rclone-default', 'rclone default', [], true),
    rcloneTool(
      'rclone-fastest',
      'rclone fastest',
      RCLONE_FASTEST_FLAGS,
      true,
      '--checksum: MD5 vs listed ETag (no HEAD per object); --s3-no-head: no HEAD after PUT (Content-MD5 still sent, as bucketspace does); --transfers 16: 32 and 64 were no faster for rclone here',
    ),
  ];
  if (options.includeSizeOnly) {
    tools.push(
      rcloneTool(
        'rclone-size-only',
        'rclone --size-only (INCORRECT)',
        ['--fast-list', '--size-only', '--transfers', '16', '--checkers', '16', '--s3-no-head'],
        false,
        'compares sizes only: misses same-size edits, shown for scale, never a goal baseline',
      ),
    );
  }
  return tools;
}
