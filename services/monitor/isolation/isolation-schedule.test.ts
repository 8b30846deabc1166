import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  deployGate,
  initialIsolation,
  ISOLATION_REFRESH_MS,
  ISOLATION_RETRY_MS,
  isolationChecked,
  isolationDue,
} from './isolation-schedule.ts';

test('isolation off: never applied, deploys allowed', () => {
  const off = initialIsolation(false);
  assert.equal(off.state, 'off');
  assert.equal(isolationDue(off, Number.MAX_SAFE_INTEGER), false);
  assert.deepEqual(deployGate(off), { ok: true });
});

test('pending until first applied: due at once, deploys held back with the reason', () => {
  const pending = initialIsolation(true);
  assert.equal(isolationDue(pending, 0), true);
  const gate = deployGate(pending);
  assert.equal(gate.ok, false);
  assert.match(
    gate.ok ? '' : gate.reason,
    /^not started: the apps would not be kept apart \(the apps firewall has not been applied yet\); fix that, or set RUNTIME_ISOLATION=off/,
  );
});

test('applied: deploys allowed, applied again after the refresh interval', () => {
  const on = isolationChecked({ ok: true, summary: 'chains' }, 1_000);
  assert.deepEqual(on, {
    state: 'on',
    reason: 'chains',
    nextCheckAtMs: 1_000 + ISOLATION_REFRESH_MS,
  });
  assert.deepEqual(deployGate(on), { ok: true });
  assert.equal(isolationDue(on, 1_000 + ISOLATION_REFRESH_MS - 1), false);
  assert.equal(isolationDue(on, 1_000 + ISOLATION_REFRESH_MS), true);
});

test('failed: deploys held back with the reason, tried again after the retry interval', () => {
  const failed = isolationChecked({ ok: false, reason: 'image missing' }, 5_000);
  assert.equal(failed.state, 'failed');
  assert.equal(isolationDue(failed, 5_000 + ISOLATION_RETRY_MS - 1), false);
  assert.equal(isolationDue(failed, 5_000 + ISOLATION_RETRY_MS), true);
  const gate = deployGate(failed);
  assert.match(gate.ok ? '' : gate.reason, /\(image missing\)/);
});
