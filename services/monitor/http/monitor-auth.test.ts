import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import {
  MonitorAuth,
  parseCookies,
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
    assert.equal(auth.checkBearer(`Bearer ${TOKEN}`), true);
    assert.equal(auth.checkBearer(`bearer ${TOKEN}`), true);
    assert.equal(auth.checkBearer(`Bearer ${TOKEN}x`), false);
    assert.equal(auth.checkBearer(`Bearer ${TOKEN.slice(0, -1)}`), false);
    assert.equal(auth.checkBearer(`Basic ${TOKEN}`), false);
    assert.equal(auth.checkBearer(TOKEN), false);
    assert.equal(auth.checkBearer(undefined), false);
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

  test('authenticate: bearer header or session cookie', () => {
    const auth = new MonitorAuth({ token: TOKEN });
    assert.equal(auth.authenticate(request({ authorization: `Bearer ${TOKEN}` })), 'bearer');
    const cookie = `other=1; ${SESSION_COOKIE}=${auth.createSession()}`;
    assert.equal(auth.authenticate(request({ cookie })), 'cookie');
    assert.equal(auth.authenticate(request({ cookie: `${SESSION_COOKIE}=${TOKEN}` })), undefined);
    assert.equal(auth.authenticate(request({ authorization: 'Bearer nope' })), undefined);
    assert.equal(auth.authenticate(request({})), undefined);
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
  test('parseCookies keeps the first of a repeated name', () => {
    const c = parseCookies('a=1; b = 2;c=x=y; a=3; bad');
    assert.deepEqual(
      [...c],
      [
        ['a', '1'],
        ['b', '2'],
        ['c', 'x=y'],
      ],
    );
    assert.equal(parseCookies(undefined).size, 0);
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
