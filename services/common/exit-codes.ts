import { isBucketspaceError } from './errors.ts';

/** Exit codes of every bucketspace command. */
export const EXIT = {
  ok: 0,
  /** Some files failed (each named); everything else was done. */
  failures: 1,
  /** Usage or configuration error (including rejected credentials, bucket name or input). */
  usage: 2,
  /** Refused by a safety rail; nothing was deleted. */
  refused: 3,
} as const;

export function exitCodeFor(err: unknown): number {
  if (!isBucketspaceError(err)) return EXIT.failures;
  switch (err.code) {
    case 'CONFIG_INVALID':
    case 'USAGE':
    case 'S3_AUTH':
    case 'S3_BUCKET_INVALID':
    case 'INVALID_INPUT':
      return EXIT.usage;
    case 'SAFETY_REFUSED':
      return EXIT.refused;
    default:
      return EXIT.failures;
  }
}
