import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** S3 allows at most 10,000 parts of at least 5 MiB each. */
export const MIN_PART_SIZE = 8 * 1024 * 1024;
export const MAX_PARTS = 10_000;
/**
 * Files of at least this size are uploaded multipart. Twice the minimum part
 * size, so a multipart upload always has at least two parts and its ETag is
 * always of the `md5-N` form.
 */
export const MULTIPART_THRESHOLD = 2 * MIN_PART_SIZE;

/**
 * The part size used for a file of `size` bytes: 8 MiB, doubled until the
 * upload fits in 9,000 parts (headroom under S3's 10,000). Deterministic, so a
 * local multipart ETag can be recomputed and compared with the listing.
 */
export function partSizeFor(size: number): number {
  let part = MIN_PART_SIZE;
  while (Math.ceil(size / part) > 9_000) part *= 2;
  return part;
}

/**
 * The ETags a server may give a file we uploaded: the MD5 hex for a single PUT;
 * for a multipart upload AWS and MinIO give MD5-of-part-MD5s plus `-N`, while
 * some S3-compatible servers give the whole file's MD5, so both are returned.
 * Reads the file once.
 */
export async function localEtags(path: string, size: number): Promise<string[]> {
  const whole = createHash('md5');
  if (size < MULTIPART_THRESHOLD) {
    for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }))
      whole.update(chunk as Buffer);
    return [whole.digest('hex')];
  }
  const partSize = partSizeFor(size);
  const partHashes: Buffer[] = [];
  let current = createHash('md5');
  let inPart = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    let buf = chunk as Buffer;
    whole.update(buf);
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
  if (inPart > 0 || partHashes.length === 0) partHashes.push(current.digest());
  const combined = createHash('md5').update(Buffer.concat(partHashes)).digest('hex');
  return [`${combined}-${partHashes.length}`, whole.digest('hex')];
}
