import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { DEFAULT_LOCK_MS, DEFAULT_MAX_FAILURES, GuessThrottle } from './guess-throttle.ts';
import {
  MonitorAuth,
  cookieValues,
  SESSION_COOKIE,
  tokensEqual,
  withoutCookie,
} from './monitor-auth.ts';

const TOKEN = 'the-monitor-token-0123456789';

function request(headers: Record<string, string>): IncomingMessage {
  return { headers } as unknown as IncomingMessage;
}

describe('MonitorAuth', () => {
  test('tokensEqual compares whole strings of any length', () => {
    assert.equal(tokensEqual('abc', 'abc'), true);
    assert.equal(tokensEqual('abc', 'abd'), false);
    assert.equal(tokensEqual('abc', 'abcd'), false);
    assert.equal(tokensEqual('', 'a'), false);
  });

  test('bearer header: exact token only, scheme in any case', () => {
    const auth = new MonitorAuth({ token: TOKEN });
    const bearer = (authorization: string) =>
      auth.verify(request({ authorization }), `client-${authorization}`).ok;
    assert.equal(bearer(`Bearer ${TOKEN}`), true);
    assert.equal(bearer(`bearer ${TOKEN}`), true);
    assert.equal(bearer(`Bearer ${TOKEN}x`), false);
    assert.equal(bearer(`Bearer ${TOKEN.slice(0, -1)}`), false);
    assert.equal(bearer(`Basic ${TOKEN}`), false);
    assert.equal(bearer(TOKEN), false);
  });

  test('a session is not the token, verifies, and expires', () => {
    let now = 1_000_000;
    const auth = new MonitorAuth({ token: TOKEN, sessionMaxAgeMs: 60_000, now: () => now });
    const session = auth.createSession();
    assert.ok(!session.includes(TOKEN));
    assert.equal(auth.checkSession(session), true);
    now += 59_999;
    assert.equal(auth.checkSession(session), true);
    now += 1;
    assert.equal(auth.checkSession(session), false, 'expired');
  });

  test('a session cannot be forged, extended or carried to another token', () => {
    const now = () => 1_000_000;
    const auth = new MonitorAuth({ token: TOKEN, sessionMaxAgeMs: 60_000, now });
    const session = auth.createSession();
    const [v, expiry, mac] = session.split('.') as [string, string, string];
    const later = (parseInt(expiry, 36) + 10_000_000).toString(36);
    assert.equal(auth.checkSession(`${v}.${later}.${mac}`), false, 'extended expiry');
    assert.equal(auth.checkSession(`${v}.${expiry}.${mac.slice(0, -1)}A`), false, 'tampered mac');
    assert.equal(auth.checkSession(`v2.${expiry}.${mac}`), false, 'other version');
    assert.equal(auth.checkSession(`${session}.x`), false);
    assert.equal(auth.checkSession(''), false);
    assert.equal(auth.checkSession(TOKEN), false, 'the raw token is not a session');
    const other = new MonitorAuth({ token: `${TOKEN}-rotated`, sessionMaxAgeMs: 60_000, now });
    assert.equal(other.checkSession(session), false, 'a new token ends old sessions');
  });

  test('verify: bearer header or session cookie; nothing sent is no guess', () => {
    const auth = new MonitorAuth({ token: TOKEN });
    assert.deepEqual(auth.verify(request({ authorization: `Bearer ${TOKEN}` }), 'a'), {
      ok: true,
      method: 'bearer',
    });
    const cookie = `other=1; ${SESSION_COOKIE}=${auth.createSession()}`;
    assert.deepEqual(auth.verify(request({ cookie }), 'a'), { ok: true, method: 'cookie' });
    assert.deepEqual(auth.verify(request({ cookie: `${SESSION_COOKIE}=${TOKEN}` }), 'a'), {
      ok: false,
      reason: 'missing',
    });
    assert.deepEqual(auth.verify(request({ authorization: 'Bearer nope' }), 'a'), {
      ok: false,
      reason: 'wrong',
    });
    assert.deepEqual(auth.verify(request({}), 'a'), { ok: false, reason: 'missing' });
  });

  test('token guesses: a client is locked out after 10 wrong tokens, even for the right one, until the lock ends', () => {
    let now = 5_000_000;
    const clock = { now: () => now, setTimeout: () => 0, clearTimeout: () => undefined };
    const auth = new MonitorAuth({ token: TOKEN, throttle: new GuessThrottle({ clock }) });
    const session = auth.createSession();
    for (let i = 1; i < DEFAULT_MAX_FAILURES; i++) {
      assert.deepEqual(auth.verifyToken(`guess-${i}`, 'attacker'), { ok: false, reason: 'wrong' });
    }
    const locked = auth.verifyToken('guess-10', 'attacker');
    assert.deepEqual(locked, {
      ok: false,
      reason: 'locked',
      retryAfterSeconds: DEFAULT_LOCK_MS / 1000,
    });
    assert.equal(auth.verifyToken(TOKEN, 'attacker').ok, false, 'the right token is not looked at');
    assert.equal(auth.verify(request({ authorization: `Bearer ${TOKEN}` }), 'attacker').ok, false);
    assert.equal(
      auth.verify(request({ cookie: `${SESSION_COOKIE}=${session}` }), 'attacker').ok,
      true,
      'a session is never ended by a lockout',
    );
    assert.equal(auth.verifyToken(TOKEN, 'someone-else').ok, true, 'other clients are not locked');
    now += DEFAULT_LOCK_MS;
    assert.equal(auth.verifyToken(TOKEN, 'attacker').ok, true, 'the lock ends');
  });

  test('cookie flags: HttpOnly, SameSite=Strict, Path=/, Max-Age; Secure on https', () => {
    const auth = new MonitorAuth({ token: TOKEN, sessionMaxAgeMs: 3_600_000 });
    const plain = auth.sessionCookie(false);
    assert.match(plain, new RegExp(`^${SESSION_COOKIE}=v1\\.`));
    for (const flag of ['HttpOnly', 'SameSite=Strict', 'Path=/', 'Max-Age=3600']) {
      assert.ok(plain.split('; ').includes(flag), flag);
    }
    assert.ok(!plain.includes('Secure'));
    assert.ok(auth.sessionCookie(true).split('; ').includes('Secure'));
    assert.match(MonitorAuth.clearCookie(false), /Max-Age=0/);
  });
});

describe('cookie helpers', () => {
  test('cookieValues returns every value of a repeated name, in order', () => {
    assert.deepEqual(cookieValues('a=1; b = 2;c=x=y; a=3; bad', 'a'), ['1', '3']);
    assert.deepEqual(cookieValues('a=1; b = 2;c=x=y', 'c'), ['x=y']);
    assert.deepEqual(cookieValues('xa=1', 'a'), []);
    assert.deepEqual(cookieValues(undefined, 'a'), []);
  });

  test('a session cookie shadowed by another page’s cookie of the same name still counts', () => {
    const auth = new MonitorAuth({ token: TOKEN });
    const session = auth.createSession();
    const req = request({
      cookie: `${SESSION_COOKIE}=planted-by-an-app; ${SESSION_COOKIE}=${session}`,
    });
    assert.deepEqual(auth.verify(req, 'a'), { ok: true, method: 'cookie' });
  });

  test('withoutCookie removes only the named cookie', () => {
    assert.equal(withoutCookie(`a=1; ${SESSION_COOKIE}=s; b=2`, SESSION_COOKIE), 'a=1; b=2');
    assert.equal(withoutCookie(`${SESSION_COOKIE}=s`, SESSION_COOKIE), undefined);
    assert.equal(
      withoutCookie(`x${SESSION_COOKIE}=keep`, SESSION_COOKIE),
      `x${SESSION_COOKIE}=keep`,
    );
    assert.equal(withoutCookie(undefined, SESSION_COOKIE), undefined);
  });
});
