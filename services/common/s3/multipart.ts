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
