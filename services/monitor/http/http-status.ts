import { BucketspaceError, isBucketspaceError, type ErrorCode } from '../../common/errors.ts';

/** The HTTP status of each error code: real statuses, never "200 with an error inside". */
const STATUS: Record<ErrorCode, number> = {
  CONFIG_INVALID: 500,
  USAGE: 400,
  INVALID_INPUT: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  LOCAL_NOT_FOUND: 404,
  S3_NO_SUCH_BUCKET: 404,
  CONFLICT: 409,
  MOUNT_BUSY: 409,
  SAFETY_REFUSED: 409,
  LOCAL_INVALID_NAME: 400,
  S3_KEY_TOO_LONG: 400,
  S3_BUCKET_INVALID: 400,
  S3_THROTTLED: 429,
  TOO_MANY_ATTEMPTS: 429,
  INTERNAL: 500,
  LOCAL_UNREADABLE: 500,
  DOCKER_ERROR: 502,
  S3_AUTH: 502,
  S3_CLIENT: 502,
  S3_SERVER: 502,
  MOUNT_FAILED: 502,
  DOCKER_UNREACHABLE: 503,
  S3_UNREACHABLE: 503,
  MOUNT_UNAVAILABLE: 503,
  TOOL_MISSING: 503,
  ABORTED: 503,
  MIRROR_CLOSED: 409,
};

export function httpStatusFor(code: ErrorCode): number {
  return STATUS[code];
}

export interface HttpError {
  status: number;
  code: ErrorCode;
  /** Safe to show: our own message, or a generic one for anything unexpected. */
  message: string;
  /** Unexpected errors are logged at error level with their stack; expected ones are not. */
  unexpected: boolean;
}

/** Errors thrown by express's own middleware (body parsing) carry `status` and `type`. */
function expressStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const status = (err as { status?: unknown; statusCode?: unknown }).status;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

/** What one thrown value becomes on the wire. Never a stack trace or an outside error's text. */
export function toHttpError(err: unknown): HttpError {
  if (isBucketspaceError(err)) {
    const status = httpStatusFor(err.code);
    return { status, code: err.code, message: err.message, unexpected: status >= 500 };
  }
  const status = expressStatus(err);
  if (status !== undefined) {
    const type = (err as { type?: unknown }).type;
    const message =
      type === 'entity.parse.failed'
        ? 'the request body is not valid JSON'
        : type === 'entity.too.large'
          ? 'the request body is too large'
          : status === 404
            ? 'not found'
            : 'the request is not valid';
    return {
      status,
      code: status === 404 ? 'NOT_FOUND' : 'INVALID_INPUT',
      message,
      unexpected: false,
    };
  }
  return { status: 500, code: 'INTERNAL', message: 'internal error', unexpected: true };
}

export function notFound(what: string): BucketspaceError {
  return new BucketspaceError('NOT_FOUND', what);
}
