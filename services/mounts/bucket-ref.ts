import { bucketNameProblems } from '../common/bucket-name.ts';
import { BucketspaceError } from '../common/errors.ts';

/**
 * The bucket a user named: `teamspace-lrm`, `s3://teamspace-lrm` or
 * `s3://teamspace-lrm/` (a prefix is not supported: one mount is one bucket).
 * Throws INVALID_INPUT listing every S3 naming rule the name breaks.
 */
export function parseBucketRef(ref: string): string {
  const trimmed = ref.trim();
  const name = trimmed.replace(/^s3:\/\//i, '').replace(/\/+$/, '');
  if (name.includes('/')) {
    throw new BucketspaceError(
      'INVALID_INPUT',
      `"${ref}": name a whole bucket (s3://bucket), not a path inside it`,
      { details: { bucket: ref } },
    );
  }
  const problems = bucketNameProblems(name);
  if (problems.length > 0) {
    throw new BucketspaceError(
      'INVALID_INPUT',
      `invalid bucket name "${name}": ${problems.join('; ')}`,
      { details: { bucket: ref, problems } },
    );
  }
  return name;
}
