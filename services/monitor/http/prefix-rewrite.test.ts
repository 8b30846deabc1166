import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { limitServiceWorkerScope, rewriteLocation, rewriteSetCookie } from './prefix-rewrite.ts';

describe('rewriteLocation', () => {
  const shop = { prefix: '/shop', upstreamHost: '10.0.0.5:3000' };

  test('root-relative redirects get the prefix, once', () => {
    assert.equal(rewriteLocation('/login', shop), '/shop/login');
    assert.equal(rewriteLocation('/', shop), '/shop/');
    assert.equal(rewriteLocation('/login?next=%2Fcart#top', shop), '/shop/login?next=%2Fcart#top');
    assert.equal(rewriteLocation('/shop/login', shop), '/shop/login', 'prefix-aware app');
    assert.equal(rewriteLocation('/shop', shop), '/shop');
    assert.equal(rewriteLocation('/shop?x=1', shop), '/shop?x=1');
    assert.equal(rewriteLocation('/shopping', shop), '/shop/shopping', 'not the same segment');
  });

  test('redirects to the container’s own address become paths under the prefix', () => {
    assert.equal(rewriteLocation('http://10.0.0.5:3000/login?a=1', shop), '/shop/login?a=1');
    assert.equal(
      rewriteLocation('http://10.0.0.5:3000/x', { prefix: '', upstreamHost: '10.0.0.5:3000' }),
      '/x',
    );
  });

  test('other targets are left alone', () => {
    for (const location of [
      'login',
      '../up',
      '?page=2',
      '//cdn.example/x',
      'https://accounts.example/oauth',
      'http://10.0.0.5:3001/other-port',
      'mailto:someone@example.com',
    ]) {
      assert.equal(rewriteLocation(location, shop), location);
    }
  });

  test('on a subdomain, root-relative paths stay as they are', () => {
    assert.equal(rewriteLocation('/login', { prefix: '', upstreamHost: 'x:1' }), '/login');
  });
});

describe('rewriteSetCookie', () => {
  const shop = { prefix: '/shop', forbidden: new Set(['bucketspace_session']) };
  const sub = { prefix: '', forbidden: new Set(['bucketspace_session']) };

  test('cookie paths move under the prefix; attributes are kept', () => {
    assert.equal(rewriteSetCookie('sid=1; Path=/; HttpOnly', shop), 'sid=1; Path=/shop; HttpOnly');
    assert.equal(rewriteSetCookie('sid=1; path=/api', shop), 'sid=1; Path=/shop/api');
    assert.equal(rewriteSetCookie('sid=1; Path=/shop/api', shop), 'sid=1; Path=/shop/api');
    assert.equal(rewriteSetCookie('sid=1; Path=/shopping', shop), 'sid=1; Path=/shop/shopping');
    assert.equal(
      rewriteSetCookie(
        'sid=a=b; Max-Age=60; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Path=/; Secure; HttpOnly; SameSite=lax; Partitioned; Priority=high',
        shop,
      ),
      'sid=a=b; Max-Age=60; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Path=/shop; HttpOnly; Secure; Partitioned; SameSite=Lax; Priority=High',
    );
  });

  test('regression: a cookie cannot escape its prefix with spaces, case or a second Path', () => {
    for (const header of [
      'x=1; Path = /',
      'x=1;Path=/',
      'x=1; PATH=/',
      'x=1; pAtH =\t/ ',
      'x=1; Path=/shop; Path=/',
      'x=1; Path=/shop; path = /',
      'x=1; Path=/; Path=/other',
      'x=1; Domain=127.0.0.1; Path=/',
    ]) {
      const out = rewriteSetCookie(header, shop) ?? '';
      const paths = out.split(';').filter((a) => /^\s*path\s*=/i.test(a));
      assert.equal(paths.length, 1, `${header} -> ${out}`);
      assert.match(paths[0]!.trim(), /^Path=\/shop(\/|$)/, `${header} -> ${out}`);
      assert.ok(!/domain/i.test(out), `${header} -> ${out}`);
    }
  });

  test('Domain is dropped: no cookie for the parent domain, even on a subdomain', () => {
    assert.equal(rewriteSetCookie('x=1; Domain=.apps.example.com; Path=/', sub), 'x=1; Path=/');
  });

  test('the monitor’s session cookie is dropped in any spacing; nameless cookies too', () => {
    assert.equal(rewriteSetCookie('bucketspace_session=stolen; Path=/', shop), undefined);
    assert.equal(rewriteSetCookie(' bucketspace_session =stolen', sub), undefined);
    assert.equal(rewriteSetCookie('=nameless; Path=/', shop), undefined);
    assert.equal(rewriteSetCookie('nameless', shop), undefined);
    assert.equal(
      rewriteSetCookie('other_bucketspace_session=ok', shop),
      'other_bucketspace_session=ok',
    );
  });

  test('cookies without a path, and subdomains, keep their path', () => {
    assert.equal(rewriteSetCookie('sid=1; HttpOnly', shop), 'sid=1; HttpOnly');
    assert.equal(
      rewriteSetCookie('sid=1; Path=x', shop),
      'sid=1',
      'not a path: the browser default',
    );
    assert.equal(rewriteSetCookie('sid=1; Path=/', sub), 'sid=1; Path=/');
    assert.equal(
      rewriteSetCookie('path=/x; Max-Age=5', shop),
      'path=/x; Max-Age=5',
      'a cookie named path',
    );
  });
});

describe('limitServiceWorkerScope', () => {
  const at = (value: string, scriptPath = '/shop/sw.js', prefix = '/shop') =>
    limitServiceWorkerScope(value, { prefix, scriptPath });

  test('regression: Service-Worker-Allowed cannot widen a scope beyond the prefix', () => {
    assert.equal(at('/'), '/shop/');
    assert.equal(at('/other/'), '/shop/');
    assert.equal(at('/shop'), '/shop/', 'without its slash, /shop would match /shopping');
    assert.equal(at('/shop/../'), '/shop/');
    assert.equal(at('/shop/%2e%2e/'), '/shop/');
    assert.equal(at('../'), '/shop/');
    assert.equal(at('http://elsewhere.example/'), '/shop/');
    assert.equal(at('//elsewhere.example/'), '/shop/');
  });

  test('scopes inside the prefix pass; subdomains own their origin', () => {
    assert.equal(at('/shop/'), '/shop/');
    assert.equal(at('/shop/app/'), '/shop/app/');
    assert.equal(at('./'), '/shop/');
    assert.equal(at('../', '/shop/js/sw.js'), '/shop/');
    assert.equal(at('/', '/sw.js', ''), '/');
  });
});
