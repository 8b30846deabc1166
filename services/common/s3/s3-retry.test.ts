import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../../test/support/manual-clock.ts';
import { BucketspaceError } from '../errors.ts';
import { pino } from 'pino';
import { gaveUp, logRetries, S3RetryPolicy, sdkAttempts, type RetryNotice } from './s3-retry.ts';

const unreachable = new BucketspaceError('S3_UNREACHABLE', 'S3 endpoint unreachable', {
  retryable: true,
});
const denied = new BucketspaceError('S3_AUTH', 'access denied', { retryable: false });

describe('S3RetryPolicy', () => {
  test('retries only retryable errors, at most maxAttempts, with growing backoff', () => {
    const clock = new ManualClock();
    const policy = new S3RetryPolicy({ maxAttempts: 4, clock, random: () => 1 });
    const start = clock.now();
    assert.equal(policy.retryDelay(denied, 1, start), undefined, 'never an auth failure');
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => policy.retryDelay(unreachable, n, start)),
      [100, 200, 400, undefined],
    );
  });

  test('no attempt starts after retryTimeoutMs since the first', () => {
    const clock = new ManualClock();
    const policy = new S3RetryPolicy({
      maxAttempts: 20,
      retryTimeoutMs: 1000,
      clock,
      random: () => 1,
    });
    const start = clock.now();
    assert.equal(policy.retryDelay(unreachable, 1, start), 100);
    clock.advance(600);
    assert.equal(
      policy.retryDelay(unreachable, 2, start),
      200,
      '600 + 200 ms is within the budget',
    );
    clock.advance(250);
    assert.equal(policy.retryDelay(unreachable, 2, start), undefined, '850 + 200 ms is not');
  });

  test('as the SDK strategy: same decisions, notices, and a skew correction retried at once', async () => {
    const clock = new ManualClock();
    const notices: RetryNotice[] = [];
    const policy = new S3RetryPolicy({
      maxAttempts: 3,
      clock,
      random: () => 1,
      onRetry: (n) => notices.push(n),
    });
    const strategy = policy.sdkStrategy();
    const first = await strategy.acquireInitialRetryToken('');
    const timeout = Object.assign(new Error('socket timed out'), { name: 'TimeoutError' });
    const second = await strategy.refreshRetryTokenForRetry(first, { error: timeout });
    assert.equal(second.getRetryDelay(), 100);
    assert.deepEqual(
      notices.map((n) => [n.attempt, n.maxAttempts, n.error.code]),
      [[1, 3, 'S3_UNREACHABLE']],
    );
    const skew = Object.assign(new Error('skewed'), {
      name: 'RequestTimeTooSkewed',
      $metadata: { httpStatusCode: 403, clockSkewCorrected: true },
    });
    const third = await strategy.refreshRetryTokenForRetry(second, { error: skew });
    assert.equal(third.getRetryDelay(), 0);
    await assert.rejects(
      strategy.refreshRetryTokenForRetry(third, { error: timeout }),
      (err) => err === timeout,
      'the third failure of three is final',
    );
    const forbidden = Object.assign(new Error('no'), {
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
    });
    await assert.rejects(strategy.refreshRetryTokenForRetry(first, { error: forbidden }));
  });

  test('the final error says how often it was tried', () => {
    assert.equal(gaveUp(unreachable, 1), unreachable);
    const after = gaveUp(unreachable, 3);
    assert.equal(after.code, 'S3_UNREACHABLE');
    assert.equal(after.retryable, true);
    assert.match(after.message, /gave up after 3 attempts/);
    assert.equal(sdkAttempts({ $metadata: { attempts: 4 } }), 4);
    assert.equal(sdkAttempts(new Error('x')), 1);
  });
});

describe('logRetries', () => {
  test('"waiting for S3 (attempt n of N)": each new attempt number, at most one line a second otherwise', () => {
    const lines: { msg: string; attempt: number }[] = [];
    const logger = pino(
      { level: 'warn' },
      { write: (s: string) => lines.push(JSON.parse(s) as { msg: string; attempt: number }) },
    );
    const clock = new ManualClock();
    const notify = logRetries(logger, clock);
    const notice = (attempt: number) => ({
      attempt,
      maxAttempts: 5,
      delayMs: 400,
      error: unreachable,
    });
    for (let i = 0; i < 32; i++) notify(notice(1)); // 32 requests fail at once
    notify(notice(2));
    clock.advance(1000);
    notify(notice(1));
    assert.deepEqual(
      lines.map((l) => l.attempt),
      [2, 3, 2],
    );
    assert.equal(
      lines[0]?.msg,
      'waiting for S3 (attempt 2 of 5 in 0.4 s): S3 endpoint unreachable',
    );
  });
});
