import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from './backoff.ts';

test('backoff doubles per attempt, is capped, and jitters within [ceiling/2, ceiling]', () => {
  const opts = { baseMs: 1000, maxMs: 30_000 };
  assert.equal(backoffDelay(0, { ...opts, random: () => 0 }), 500);
  assert.equal(backoffDelay(0, { ...opts, random: () => 1 }), 1000);
  assert.equal(backoffDelay(3, { ...opts, random: () => 1 }), 8000);
  assert.equal(backoffDelay(10, { ...opts, random: () => 1 }), 30_000);
  assert.equal(backoffDelay(10, { ...opts, random: () => 0 }), 15_000);
});
