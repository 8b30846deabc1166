import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** S3 allows at most 10,000 parts of at least 5 MiB each (the last may be smaller). */
export const MIN_PART_SIZE = 8 * 1024 * 1024;
export const MAX_PARTS = 10_000;
/** S3's largest single PUT. */
export const MAX_SINGLE_PUT = 5 * 1024 ** 3;
/**
 * Files of at least this size are uploaded multipart by default (S3_UPLOAD_CUTOFF);
 * smaller ones in one streamed PUT. rclone's default cutoff: one request is
 * cheaper for the server than parts it must write and then join, and a failed
 * attempt resends at most this much.
 */
export const DEFAULT_UPLOAD_CUTOFF = 200 * 1024 * 1024;
/** The lowest cutoff allowed: S3's minimum part size. */
export const MIN_UPLOAD_CUTOFF = 5 * 1024 * 1024;

/**
 * The part size used for a file of `size` bytes: 8 MiB, doubled until the
 * upload fits in 9,000 parts (headroom under S3's 10,000). Deterministic and
 * independent of the cutoff, so a local multipart ETag can be recomputed and
 * compared with the listing, whenever the object was uploaded.
 */
export function partSizeFor(size: number): number {
  let part = MIN_PART_SIZE;
  while (Math.ceil(size / part) > 9_000) part *= 2;
  return part;
}

/** The part count of a multipart ETag (`<md5>-N`), or undefined for a plain MD5 or anything else. */
export function multipartParts(etag: string): number | undefined {
  const m = /^[0-9a-f]{32}-(\d+)$/.exec(etag);
  return m ? Number(m[1]) : undefined;
}

/**
 * The ETags a server may give this file's content, in the form of
 * `remoteEtag` (the listed ETag it is compared with): always the whole file's
 * MD5 (a single PUT; also what some S3-compatible servers give multipart
 * uploads); and when the remote ETag is a multipart one (`md5-N`), the
 * MD5-of-part-MD5s with bucketspace's part size, if that gives N parts. So an
 * object uploaded multipart (by an earlier version, or over the cutoff)
 * compares equal whatever the cutoff is now. Reads the file once.
 */
export async function localEtags(
  path: string,
  size: number,
  remoteEtag: string,
): Promise<string[]> {
  const whole = createHash('md5');
  const parts = multipartParts(remoteEtag);
  const partSize = partSizeFor(size);
  const multipart = parts !== undefined && parts === Math.max(1, Math.ceil(size / partSize));
  const partHashes: Buffer[] = [];
  let current = createHash('md5');
  let inPart = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    let buf = chunk as Buffer;
    whole.update(buf);
    if (!multipart) continue;
    while (buf.length > 0) {
      const take = Math.min(buf.length, partSize - inPart);
      current.update(buf.subarray(0, take));
      inPart += take;
      buf = buf.subarray(take);
      if (inPart === partSize) {
        partHashes.push(current.digest());
        current = createHash('md5');
        inPart = 0;
      }
    }
  }
  if (!multipart) return [whole.digest('hex')];
  if (inPart > 0 || partHashes.length === 0) partHashes.push(current.digest());
  const combined = createHash('md5').update(Buffer.concat(partHashes)).digest('hex');
  return [`${combined}-${partHashes.length}`, whole.digest('hex')];
}
