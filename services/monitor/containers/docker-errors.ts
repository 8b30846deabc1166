import {
  BucketspaceError,
  errorMessage,
  isBucketspaceError,
  isNetworkError,
  systemErrorCode,
} from '../../common/errors.ts';

function statusOf(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'statusCode' in err) {
    const status = err.statusCode;
    return typeof status === 'number' ? status : undefined;
  }
  return undefined;
}

/** Docker's own explanation from an engine error body ({"message": ...}). */
function engineMessage(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'json' in err) {
    const json = err.json;
    if (
      typeof json === 'object' &&
      json !== null &&
      'message' in json &&
      typeof json.message === 'string'
    ) {
      return json.message;
    }
  }
  return errorMessage(err);
}

/**
 * Classify an error from the Docker engine by HTTP status and system error
 * code (never by message text): unreachable engines are retryable.
 */
export function classifyDockerError(err: unknown, action: string): BucketspaceError {
  if (isBucketspaceError(err)) return err;
  const code = systemErrorCode(err);
  if (isNetworkError(err) || code === 'ENOENT' || code === 'EACCES') {
    const hint =
      code === 'EACCES'
        ? 'permission denied on the Docker socket (run as a user in the docker group, or as root)'
        : 'is dockerd running? is DOCKER_HOST right?';
    return new BucketspaceError(
      'DOCKER_UNREACHABLE',
      `${action}: Docker is unreachable (${code ?? 'no connection'}): ${hint}`,
      {
        cause: err,
        retryable: true,
      },
    );
  }
  const status = statusOf(err);
  const message = `${action}: ${engineMessage(err)}`;
  if (status === 404) return new BucketspaceError('NOT_FOUND', message, { cause: err });
  if (status === 409) return new BucketspaceError('CONFLICT', message, { cause: err });
  return new BucketspaceError('DOCKER_ERROR', message, {
    cause: err,
    retryable: status === undefined || status >= 500,
    details: status === undefined ? {} : { status },
  });
}
