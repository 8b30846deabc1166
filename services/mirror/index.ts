// `bucketspace/mirror`: local files for data and ML pipelines, with S3 as the store.
export { Mirror, mirror, withMirror } from './mirror.ts';
export type {
  CloseOptions,
  DownloadOptions,
  Duration,
  LsOptions,
  MirrorEvent,
  MirrorOptions,
  MirrorReport,
  MirrorS3Options,
  SyncOptions,
  UploadOptions,
} from './types.ts';
export type { Refusal } from '../sync/types.ts';
export { BucketspaceError, isBucketspaceError, type ErrorCode } from '../common/errors.ts';
