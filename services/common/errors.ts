/**
 * The one error class of bucketspace. Every failure that crosses a module
 * boundary is a BucketspaceError with a stable string `code`, the underlying
 * `cause`, and whether retrying the same operation may succeed.
 * Classification of outside errors is by code and status, never by message text.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'USAGE'
  | 'S3_UNREACHABLE'
  | 'S3_AUTH'
  | 'S3_NO_SUCH_BUCKET'
  | 'S3_BUCKET_INVALID'
  | 'S3_THROTTLED'
  | 'S3_SERVER'
  | 'S3_CLIENT'
  | 'S3_KEY_TOO_LONG'
  | 'LOCAL_NOT_FOUND'
  | 'LOCAL_UNREADABLE'
  | 'LOCAL_INVALID_NAME'
  | 'SAFETY_REFUSED'
  | 'ABORTED'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'UNAUTHORIZED'
  /** Authenticated, but refused (a cross-site request carrying the session cookie). */
  | 'FORBIDDEN'
  /** Too many wrong monitor tokens from one client: locked out for a while. */
  | 'TOO_MANY_ATTEMPTS'
  | 'INVALID_INPUT'
  | 'DOCKER_UNREACHABLE'
  | 'DOCKER_ERROR'
  | 'MOUNT_UNAVAILABLE'
  | 'MOUNT_FAILED'
  | 'MOUNT_BUSY'
  /** A mirror used after it was closed (its scope ended). */
  | 'MIRROR_CLOSED'
  | 'TOOL_MISSING'
  | 'INTERNAL';

export interface BucketspaceErrorOptions {
  cause?: unknown;
  retryable?: boolean;
  /** Extra structured context (paths, keys, counts) for logs and summaries. */
  details?: Record<string, unknown>;
}

export class BucketspaceError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: BucketspaceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BucketspaceError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details ?? {};
  }
}

export function isBucketspaceError(err: unknown, code?: ErrorCode): err is BucketspaceError {
  return err instanceof BucketspaceError && (code === undefined || err.code === code);
}

/** Node system error codes that mean "the network or server is not there (yet)". */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

export function systemErrorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = err.code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

export function isNetworkError(err: unknown): boolean {
  const code = systemErrorCode(err);
  if (code !== undefined && NETWORK_CODES.has(code)) return true;
  if (err instanceof AggregateError) return err.errors.some(isNetworkError);
  if (err instanceof Error && err.cause !== undefined && err.cause !== err) {
    return isNetworkError(err.cause);
  }
  return false;
}

/** Wrap a local filesystem error into a BucketspaceError naming the path. */
export function localError(err: unknown, path: string, action: string): BucketspaceError {
  if (isBucketspaceError(err)) return err;
  const code = systemErrorCode(err);
  const reason = code ?? (err instanceof Error ? err.message : String(err));
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new BucketspaceError('LOCAL_NOT_FOUND', `${action} ${path}: no such file (${reason})`, {
      cause: err,
      details: { path },
    });
  }
  return new BucketspaceError('LOCAL_UNREADABLE', `${action} ${path}: ${reason}`, {
    cause: err,
    details: { path },
  });
}

/** Any thrown value as a BucketspaceError (INTERNAL when it is not one already). */
export function asBucketspaceError(err: unknown): BucketspaceError {
  return isBucketspaceError(err)
    ? err
    : new BucketspaceError('INTERNAL', errorMessage(err), { cause: err });
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
