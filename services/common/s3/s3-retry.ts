import { backoffDelay } from '../backoff.ts';
import type { BucketspaceError } from '../errors.ts';
import { classifyS3Error } from './s3-errors.ts';

/** One failed attempt that will be retried: for logs and for "waiting for S3" on a terminal. */
export interface RetryNotice {
  /** The attempt that failed (1-based). */
  attempt: number;
  maxAttempts: number;
  /** Wait before the next attempt. */
  delayMs: number;
  error: BucketspaceError;
}

export interface S3RetryPolicyOptions {
  /** Attempts per request, the first included (S3_MAX_ATTEMPTS). */
  maxAttempts: number;
  /** Backoff: the first wait is up to baseMs, doubling per attempt up to maxMs (full jitter). */
  baseMs?: number;
  maxMs?: number;
  random?: () => number;
  /** Told of every retry, before its wait. */
  onRetry?: (notice: RetryNotice) => void;
}

/**
 * When the S3 adapter retries, for every request it makes (the SDK's and the
 * signed PUTs): only errors classified `retryable` (classifyS3Error), at most
 * `maxAttempts` attempts, exponential backoff with jitter between them.
 */
export class S3RetryPolicy {
  readonly maxAttempts: number;
  private readonly options: S3RetryPolicyOptions;

  constructor(options: S3RetryPolicyOptions) {
    this.options = options;
    this.maxAttempts = Math.max(1, options.maxAttempts);
  }

  /** The wait before the next attempt after attempt `failed` (1-based) failed with `error`; undefined: give up. */
  retryDelay(error: BucketspaceError, failed: number): number | undefined {
    if (!error.retryable || failed >= this.maxAttempts) return undefined;
    return backoffDelay(failed - 1, {
      baseMs: this.options.baseMs ?? 100,
      maxMs: this.options.maxMs ?? 20_000,
      ...(this.options.random ? { random: this.options.random } : {}),
    });
  }

  /** Says a retry is coming (after retryDelay gave a wait). */
  notify(notice: RetryNotice): void {
    this.options.onRetry?.(notice);
  }

  /**
   * The policy as the SDK's retry strategy (its `RetryStrategyV2`): the SDK
   * asks it after each failed attempt and waits what it says. A request the
   * SDK retried after correcting its clock (`clockSkewCorrected`) is retried
   * at once, as the SDK's own strategy does.
   */
  sdkStrategy(): SdkRetryStrategy {
    const token = (count: number, delay: number): SdkRetryToken => ({
      getRetryCount: () => count,
      getRetryDelay: () => delay,
    });
    return {
      acquireInitialRetryToken: () => Promise.resolve(token(0, 0)),
      refreshRetryTokenForRetry: (previous, info) => {
        if (info.error === undefined) return Promise.reject(new Error('S3 request failed'));
        const failed = previous.getRetryCount() + 1;
        const error = classifyS3Error(info.error, 'S3 request');
        const skewCorrected = info.error.$metadata?.clockSkewCorrected === true;
        const delay =
          skewCorrected && failed < this.maxAttempts ? 0 : this.retryDelay(error, failed);
        if (delay === undefined) return Promise.reject(info.error);
        this.notify({ attempt: failed, maxAttempts: this.maxAttempts, delayMs: delay, error });
        return Promise.resolve(token(failed, delay));
      },
      recordSuccess: () => undefined,
    };
  }
}

/** The SDK's retry token and strategy (RetryStrategyV2 of @smithy/types), as far as we use them. */
interface SdkRetryToken {
  getRetryCount(): number;
  getRetryDelay(): number;
}
interface SdkRetryStrategy {
  acquireInitialRetryToken(scope: string): Promise<SdkRetryToken>;
  refreshRetryTokenForRetry(
    token: SdkRetryToken,
    info: { error?: Error & { $metadata?: { clockSkewCorrected?: boolean } } },
  ): Promise<SdkRetryToken>;
  recordSuccess(token: SdkRetryToken): void;
}
