import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { BucketspaceError } from '../common/errors.ts';
import { MAX_KEY_BYTES } from '../sync/operations/upload.ts';
import { parseBucketRef } from '../mounts/bucket-ref.ts';
import { unsafePathProblem } from '../sync/object-keys.ts';

/** What a mirror call names: a place in S3, or a local path used as it is. */
export type Location = S3Location | { kind: 'local'; path: string };

export interface S3Location {
  kind: 's3';
  bucket: string;
  /** The key or prefix without leading or trailing `/`; '' for the whole bucket. */
  key: string;
  /** The URL written the one way: `s3://bucket/key`. */
  url: string;
}

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//;

/**
 * `s3://bucket/key` (a prefix or one object; a trailing `/` changes nothing),
 * or a local path, which mirror calls pass through unchanged. Throws
 * INVALID_INPUT naming what is wrong: another scheme, a bucket name S3
 * refuses, a key with empty, `.` or `..` segments (it could not be mirrored
 * to a local path inside the cache) or longer than S3 allows.
 */
export function parseLocation(input: string): Location {
  if (typeof input !== 'string' || input.trim() === '') {
    throw new BucketspaceError(
      'INVALID_INPUT',
      `expected an s3://bucket/key URL or a local path, got ${JSON.stringify(input)}`,
    );
  }
  const scheme = SCHEME.exec(input)?.[1];
  if (scheme === undefined) return { kind: 'local', path: input };
  if (scheme.toLowerCase() !== 's3') {
    throw new BucketspaceError(
      'INVALID_INPUT',
      `"${input}": only s3:// URLs (or local paths) can be mirrored, not ${scheme}://`,
      { details: { url: input } },
    );
  }
  const rest = input.slice(scheme.length + 3);
  const slash = rest.indexOf('/');
  const bucketPart = slash < 0 ? rest : rest.slice(0, slash);
  if (bucketPart === '') {
    throw new BucketspaceError('INVALID_INPUT', `"${input}" names no bucket (s3://bucket/key)`, {
      details: { url: input },
    });
  }
  const bucket = parseBucketRef(bucketPart);
  const key = (slash < 0 ? '' : rest.slice(slash + 1)).replace(/\/+$/, '');
  if (key !== '') {
    const problem = unsafePathProblem(key);
    if (problem !== undefined)
      throw new BucketspaceError(
        'INVALID_INPUT',
        `"${input}": the key ${problem}; it cannot be mirrored to a local path`,
        { details: { url: input } },
      );
    if (Buffer.byteLength(key) > MAX_KEY_BYTES)
      throw new BucketspaceError(
        'INVALID_INPUT',
        `"${input}": the key is longer than S3 allows (${MAX_KEY_BYTES} bytes)`,
        { details: { url: input } },
      );
  }
  return { kind: 's3', bucket, key, url: `s3://${bucket}${key === '' ? '' : `/${key}`}` };
}

/** Where a location lives locally unless told: `<cacheRoot>/<bucket>/<key>`. */
export function cachePath(cacheRoot: string, location: S3Location): string {
  return join(cacheRoot, location.bucket, ...(location.key === '' ? [] : location.key.split('/')));
}

/** An absolute local path; `~` and `~/x` are the home directory. */
export function localPath(path: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return join(homedir(), path.slice(2));
  return resolve(path);
}

/** The URL of an object under a location (`s3://bucket/key`). */
export function objectUrl(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/** The prefix a tree lives under: `key/`, or '' for a whole bucket. */
export function prefixOf(location: S3Location): string {
  return location.key === '' ? '' : `${location.key}/`;
}
