import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rewriteCookiePath, rewriteLocation } from './prefix-rewrite.ts';

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

describe('rewriteCookiePath', () => {
  test('cookie paths move under the prefix', () => {
    assert.equal(
      rewriteCookiePath('sid=1; Path=/; HttpOnly', '/shop'),
      'sid=1; Path=/shop; HttpOnly',
    );
    assert.equal(rewriteCookiePath('sid=1; path=/api', '/shop'), 'sid=1; path=/shop/api');
    assert.equal(rewriteCookiePath('sid=1; Path=/shop/api', '/shop'), 'sid=1; Path=/shop/api');
  });

  test('cookies without a path, and subdomains, are unchanged', () => {
    assert.equal(rewriteCookiePath('sid=1; HttpOnly', '/shop'), 'sid=1; HttpOnly');
    assert.equal(rewriteCookiePath('sid=1; Path=/', ''), 'sid=1; Path=/');
    assert.equal(
      rewriteCookiePath('path=/x; Max-Age=5', '/shop'),
      'path=/x; Max-Age=5',
      'a cookie named path',
    );
  });
});
