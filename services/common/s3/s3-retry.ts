import { backoffDelay } from '../backoff.ts';
import { systemClock, type Clock } from '../clock.ts';
import { BucketspaceError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { classifyS3Error } from './s3-errors.ts';

/** One failed attempt that will be retried: for logs and for "waiting for S3" on a terminal. */
export interface RetryNotice {
  /** The attempt that failed (1-based); the next one is attempt + 1. */
  attempt: number;
  maxAttempts: number;
  /** Wait before the next attempt. */
  delayMs: number;
  error: BucketspaceError;
}

export interface S3RetryPolicyOptions {
  /** Attempts per request, the first included (S3_MAX_ATTEMPTS). */
  maxAttempts: number;
  /** No new attempt starts after this long since the request's first (S3_RETRY_TIMEOUT); default: no limit. */
  retryTimeoutMs?: number;
  /** Backoff: the first wait is up to baseMs, doubling per attempt up to maxMs (full jitter). */
  baseMs?: number;
  maxMs?: number;
  random?: () => number;
  /** Where elapsed time is read. */
  clock?: Clock;
  /** Told of every retry, before its wait. */
  onRetry?: (notice: RetryNotice) => void;
}

/**
 * When the S3 adapter retries, for every request it makes (the SDK's and the
 * signed PUTs): only errors classified `retryable` (classifyS3Error), at most
 * `maxAttempts` attempts and no new attempt after `retryTimeoutMs`, with
 * exponential backoff and jitter between them.
 */
export class S3RetryPolicy {
  readonly maxAttempts: number;
  readonly clock: Clock;
  private readonly options: S3RetryPolicyOptions;

  constructor(options: S3RetryPolicyOptions) {
    this.options = options;
    this.maxAttempts = Math.max(1, options.maxAttempts);
    this.clock = options.clock ?? systemClock;
  }

  /**
   * The wait before the next attempt after attempt `failed` (1-based) of a
   * request first tried at `startedAt` failed with `error`; undefined: give up.
   */
  retryDelay(error: BucketspaceError, failed: number, startedAt: number): number | undefined {
    if (!error.retryable || failed >= this.maxAttempts) return undefined;
    const delay = backoffDelay(failed - 1, {
      baseMs: this.options.baseMs ?? 100,
      maxMs: this.options.maxMs ?? 20_000,
      ...(this.options.random ? { random: this.options.random } : {}),
    });
    const budget = this.options.retryTimeoutMs;
    if (budget !== undefined && this.clock.now() - startedAt + delay > budget) return undefined;
    return delay;
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
    const token = (count: number, delay: number, startedAt: number): PolicyToken => ({
      startedAt,
      getRetryCount: () => count,
      getRetryDelay: () => delay,
    });
    return {
      acquireInitialRetryToken: () => Promise.resolve(token(0, 0, this.clock.now())),
      refreshRetryTokenForRetry: (previous, info) => {
        if (info.error === undefined) return Promise.reject(new Error('S3 request failed'));
        const failed = previous.getRetryCount() + 1;
        const { startedAt } = previous as PolicyToken;
        const error = classifyS3Error(info.error, 'S3 request');
        const skewCorrected = info.error.$metadata?.clockSkewCorrected === true;
        const delay =
          skewCorrected && failed < this.maxAttempts
            ? 0
            : this.retryDelay(error, failed, startedAt);
        if (delay === undefined) return Promise.reject(info.error);
        this.notify({ attempt: failed, maxAttempts: this.maxAttempts, delayMs: delay, error });
        return Promise.resolve(token(failed, delay, startedAt));
      },
      recordSuccess: () => undefined,
    };
  }
}

/** The error a request gives up with: the last one, saying how often it was tried. */
export function gaveUp(error: BucketspaceError, attempts: number): BucketspaceError {
  if (attempts <= 1) return error;
  return new BucketspaceError(error.code, `${error.message} (gave up after ${attempts} attempts)`, {
    cause: error.cause,
    retryable: error.retryable,
    details: { ...error.details, attempts },
  });
}

/** How many attempts the SDK made of a request that failed (it records them on the error). */
export function sdkAttempts(err: unknown): number {
  const attempts = (err as { $metadata?: { attempts?: unknown } } | undefined)?.$metadata?.attempts;
  return typeof attempts === 'number' ? attempts : 1;
}

/**
 * The usual `onRetry`: a warning "waiting for S3 (attempt n of N)" (on a
 * terminal it is what the user sees while the server does not answer); one
 * line per new attempt number, and at most one a second while many requests
 * wait at once.
 */
export function logRetries(
  logger: Logger,
  clock: Clock = systemClock,
): (notice: RetryNotice) => void {
  let lastAttempt = 0;
  let lastAt = Number.NEGATIVE_INFINITY;
  return (notice) => {
    const now = clock.now();
    if (notice.attempt <= lastAttempt && now - lastAt < 1000) return;
    lastAttempt = Math.max(lastAttempt, notice.attempt);
    lastAt = now;
    const next = notice.attempt + 1;
    logger.warn(
      {
        attempt: next,
        maxAttempts: notice.maxAttempts,
        retryInMs: notice.delayMs,
        code: notice.error.code,
      },
      `waiting for S3 (attempt ${next} of ${notice.maxAttempts} in ${(notice.delayMs / 1000).toFixed(1)} s): ${notice.error.message}`,
    );
  };
}

/** The SDK's retry token and strategy (RetryStrategyV2 of @smithy/types), as far as we use them. */
interface SdkRetryToken {
  getRetryCount(): number;
  getRetryDelay(): number;
}
interface PolicyToken extends SdkRetryToken {
  /** When the request's first attempt started. */
  startedAt: number;
}
interface SdkRetryStrategy {
  acquireInitialRetryToken(scope: string): Promise<SdkRetryToken>;
  refreshRetryTokenForRetry(
    token: SdkRetryToken,
    info: {
      error?: Error & { $metadata?: { clockSkewCorrected?: boolean; httpStatusCode?: number } };
    },
  ): Promise<SdkRetryToken>;
  recordSuccess(token: SdkRetryToken): void;
}
