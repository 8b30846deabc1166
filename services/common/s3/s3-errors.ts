import { BucketspaceError, isBucketspaceError, isNetworkError, type ErrorCode } from '../errors.ts';

interface SdkErrorShape {
  name?: string;
  Code?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

const AUTH_NAMES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'InvalidToken',
  'ExpiredToken',
  'CredentialsProviderError',
  'InvalidClientTokenId',
]);
/** The server is busy or timed the request out: waiting and sending again helps. */
const THROTTLE_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestTimeout',
  'TooManyRequests',
]);

/** The S3 error name of an SDK error or of one parsed from a response body. */
export function s3ErrorName(err: unknown): string {
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkErrorShape;
  return e.Code ?? e.name ?? '';
}

/** `RequestTimeTooSkewed`: the local clock is off; retrying helps only once it is corrected. */
export function isClockSkewError(err: unknown): boolean {
  return s3ErrorName(err) === 'RequestTimeTooSkewed';
}

/**
 * Classify an error from the S3 SDK (or shaped like one) by its error name
 * and HTTP status, never by message text, into a BucketspaceError with a code
 * and `retryable`: the one table every retry decision of the S3 adapter reads.
 */
export function classifyS3Error(err: unknown, what: string): BucketspaceError {
  if (isBucketspaceError(err)) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkErrorShape;
  const name = s3ErrorName(err);
  const status = e.$metadata?.httpStatusCode;
  const reason = err instanceof Error ? err.message : String(err);
  const make = (code: ErrorCode, message: string, retryable: boolean) =>
    new BucketspaceError(code, `${what}: ${message}`, {
      cause: err,
      retryable,
      details: { s3Error: name || undefined, httpStatus: status },
    });

  if (name === 'AbortError') return make('ABORTED', 'aborted', false);
  if (isNetworkError(err) || name === 'TimeoutError' || name === 'RequestTimeoutException') {
    return make('S3_UNREACHABLE', `S3 endpoint unreachable (${reason})`, true);
  }
  if (AUTH_NAMES.has(name) || status === 403) {
    return make(
      'S3_AUTH',
      `access denied: check S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY (${name || status})`,
      false,
    );
  }
  if (name === 'NoSuchBucket') return make('S3_NO_SUCH_BUCKET', 'the bucket does not exist', false);
  if (name === 'InvalidBucketName')
    return make('S3_BUCKET_INVALID', 'the server rejected the bucket name', false);
  if (name === 'KeyTooLongError')
    return make('S3_KEY_TOO_LONG', 'object key too long (S3 allows 1024 bytes)', false);
  // The body did not match its Content-MD5 (changed or corrupted on the way): sending it again helps.
  if (name === 'BadDigest')
    return make('S3_CLIENT', 'the body did not match its Content-MD5 (BadDigest)', true);
  if (THROTTLE_NAMES.has(name) || status === 429 || status === 503) {
    return make('S3_THROTTLED', `server busy (${name || status})`, true);
  }
  if (status !== undefined && status >= 500)
    return make('S3_SERVER', `server error ${status} ${name}`, true);
  if (e.$retryable !== undefined) return make('S3_SERVER', `${name || 'error'}: ${reason}`, true);
  if (status !== undefined && status >= 400)
    return make('S3_CLIENT', `${name || status}: ${reason}`, false);
  return make('S3_UNREACHABLE', reason, true);
}
