import type { BucketspaceError } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { Clock } from '../common/clock.ts';
import type { Refusal } from '../sync/types.ts';
import type { MirrorS3Options } from './mirror-settings.ts';

export type { MirrorS3Options };

/** A duration: `'500ms'`, `'30s'`, `'5m'`, `'1h'`, or a number of milliseconds. */
export type Duration = string | number;

export interface MirrorOptions {
  /** Local copies go to `<cacheRoot>/<bucket>/<key>` (default `MIRROR_CACHE_ROOT`, else `~/.cache/bucketspace/mirror`). */
  cacheRoot?: string;
  /** Progress bars on stderr when it is a terminal; nothing on a pipe (default true). */
  showProgress?: boolean;
  /** Transfers at once, downloads and uploads together (default `MIRROR_MAX_WORKERS`, else 16). */
  maxWorkers?: number;
  /** Most deletions of one path in one run: a count or `'10%'` (default: more than 50% and more than 10 are refused). */
  maxDelete?: number | string;
  /** S3 settings by key (`endpoint`, `region`, `accessKeyId`, `secretAccessKey`, ...), over the `S3_*` variables. */
  s3?: MirrorS3Options;
  /** Where the `S3_*`, `MIRROR_*` and `LOG_LEVEL` variables are read (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Stops everything at once: transfers in flight are cancelled and no last upload is made. */
  signal?: AbortSignal;
  /** A pino logger (default: warnings and errors as JSON lines on stderr, or `LOG_LEVEL`). */
  logger?: Logger;
  /** Structured events for callers that draw their own progress or keep their own log. */
  onEvent?: (event: MirrorEvent) => void;
  /** Time for the background intervals (tests move it by hand). */
  clock?: Clock;
}

interface Selection {
  /** Explicit local path (default `<cacheRoot>/<bucket>/<key>`). */
  local?: string;
  /** gitignore-style patterns, relative to the mirrored path: left alone on both sides. */
  exclude?: readonly string[];
  /** Delete although a safety rail refused (most of a path, or everything when the source side is empty). */
  force?: boolean;
}

export interface DownloadOptions extends Selection {
  /** Delete local files that S3 does not have (default true). */
  delete?: boolean;
  /** Cancels this download. */
  signal?: AbortSignal;
}

export interface UploadOptions extends Selection {
  /** Upload in the background this often, a run never overlapping the last (default `'5m'`); `null` for on close only. */
  interval?: Duration | null;
  /** Delete objects under the prefix that the local path does not have (default true). */
  delete?: boolean;
  /** Upload on close even when the body failed (`withMirror`, or `close({ error })`) (default false). */
  syncOnError?: boolean;
}

export interface SyncOptions extends Selection {
  interval?: Duration | null;
  /** The download deletes local files that S3 does not have (default true). */
  deleteLocal?: boolean;
  /** The uploads delete objects that the local path does not have (default true). */
  deleteRemote?: boolean;
  syncOnError?: boolean;
  /** Cancels the download. */
  signal?: AbortSignal;
}

export interface LsOptions {
  /** Every object below, not only one level (default false). */
  recursive?: boolean;
  signal?: AbortSignal;
}

export interface CloseOptions {
  /** The body failed with this: only paths registered with `syncOnError` are uploaded. */
  error?: unknown;
}

/** What one download or upload did. */
export interface MirrorReport {
  operation: 'download' | 'upload';
  /** `s3://bucket/key`. */
  remote: string;
  local: string;
  /** Started by an upload's interval, not by a call or by close. */
  background: boolean;
  transferred: number;
  deleted: number;
  unchanged: number;
  skipped: number;
  failed: number;
  /** Bytes transferred. */
  bytes: number;
  seconds: number;
  failures: { path: string; code: string; message: string }[];
  skips: { path: string; reason: string; message: string }[];
  /** Safety rails that withheld deletions (each with its rule code). */
  refusals: Refusal[];
  /** Rails `force` overrode. */
  overridden: Refusal[];
}

interface EventBase {
  operation: 'download' | 'upload';
  remote: string;
  local: string;
  background: boolean;
}

export type MirrorEvent =
  /** Planned: what will be transferred. */
  | (EventBase & { type: 'start'; files: number; bytes: number })
  /** One file done. */
  | (EventBase & {
      type: 'file';
      action: 'transferred' | 'deleted';
      /** The object's URL. */
      object: string;
      /** The local file. */
      path: string;
      bytes: number;
    })
  /** The run ended (also when some files failed or a rail refused). */
  | (EventBase & { type: 'end'; report: MirrorReport })
  /** The run failed: thrown to the caller, or, for a background run, only told here and logged. */
  | (EventBase & { type: 'error'; error: BucketspaceError });
