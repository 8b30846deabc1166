import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { partSizeFor } from './multipart.ts';

/** An ETag as the server sent it (`"abc…"`, `W/"…"` is not S3's) -> lower case, no quotes: the form used everywhere. */
export function normalizeEtag(etag: string | undefined): string {
  return (etag ?? '').replace(/^"+|"+$/g, '').toLowerCase();
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
