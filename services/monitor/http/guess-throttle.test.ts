import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { clientKey, GuessThrottle } from './guess-throttle.ts';

function fakeClock(start = 1_000_000) {
  const clock = {
    t: start,
    now: () => clock.t,
    setTimeout: () => 0,
    clearTimeout: () => undefined,
  };
  return clock;
}

describe('GuessThrottle', () => {
  test('failures outside the window do not add up', () => {
    const clock = fakeClock();
    const throttle = new GuessThrottle({ clock, maxFailures: 3, windowMs: 1000, lockMs: 5000 });
    assert.equal(throttle.fail('a'), 0);
    assert.equal(throttle.fail('a'), 0);
    clock.t += 1001;
    assert.equal(throttle.fail('a'), 0, 'the first two aged out');
    assert.equal(throttle.lockedFor('a'), 0);
    assert.equal(throttle.fail('a'), 0);
    assert.equal(throttle.fail('a'), 5000, 'three within the window lock');
    clock.t += 2000;
    assert.equal(throttle.lockedFor('a'), 3000);
    clock.t += 3000;
    assert.equal(throttle.lockedFor('a'), 0);
    assert.equal(throttle.fail('a'), 0, 'a fresh count after the lock');
  });

  test('remembers a bounded number of clients, forgetting the least recent', () => {
    const clock = fakeClock();
    const throttle = new GuessThrottle({ clock, maxFailures: 2, maxClients: 2 });
    throttle.fail('a');
    throttle.fail('b');
    throttle.fail('c');
    assert.equal(throttle.fail('a'), 0, 'a was forgotten, so this is its first failure again');
    assert.ok(throttle.fail('c') > 0, 'c was kept');
  });
});

describe('clientKey', () => {
  test('IPv4 as is, mapped IPv4 unwrapped, IPv6 by /64', () => {
    assert.equal(clientKey('203.0.113.9'), '203.0.113.9');
    assert.equal(clientKey('::ffff:203.0.113.9'), '203.0.113.9');
    assert.equal(clientKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(clientKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
    assert.equal(clientKey('2001:DB8:0001:0002::9'), '2001:db8:1:2::/64');
    assert.equal(clientKey('::1'), '0:0:0:0::/64');
    assert.equal(clientKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(clientKey(undefined), 'unknown');
  });
});
