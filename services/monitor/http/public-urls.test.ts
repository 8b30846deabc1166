import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { adminOrigin, appUrl, type PublicUrlsOptions } from './public-urls.ts';

const urls = (over: Partial<PublicUrlsOptions> = {}): PublicUrlsOptions => ({
  domain: undefined,
  adminUrl: undefined,
  appsUrl: undefined,
  ports: () => ({ apps: 8080, admin: 8081 }),
  ...over,
});

describe('adminOrigin', () => {
  test('without DOMAIN: the request’s host name on the admin port', () => {
    assert.equal(
      adminOrigin(urls(), { proto: 'http', host: '127.0.0.1:8080' }),
      'http://127.0.0.1:8081',
    );
    assert.equal(adminOrigin(urls(), { proto: 'http', host: 'Box.lan' }), 'http://box.lan:8081');
    assert.equal(adminOrigin(urls(), { proto: 'http', host: '[::1]:8080' }), 'http://[::1]:8081');
    assert.equal(
      adminOrigin(urls(), { proto: 'https', host: undefined }),
      'https://localhost:8081',
    );
  });

  test('with DOMAIN: monitor.<DOMAIN>, with the admin port only when the request named a port', () => {
    const d = urls({ domain: 'example.com' });
    assert.equal(
      adminOrigin(d, { proto: 'https', host: 'shop.example.com' }),
      'https://monitor.example.com',
    );
    assert.equal(
      adminOrigin(d, { proto: 'http', host: 'shop.example.com:8080' }),
      'http://monitor.example.com:8081',
    );
  });

  test('MONITOR_ADMIN_URL wins', () => {
    const o = urls({ adminUrl: 'https://admin.example.net', domain: 'example.com' });
    assert.equal(adminOrigin(o, { proto: 'http', host: 'x:1' }), 'https://admin.example.net');
  });
});

describe('appUrl', () => {
  test('without DOMAIN: the request’s host name on the apps port, by path', () => {
    assert.equal(
      appUrl(urls(), 'shop', { proto: 'http', host: '127.0.0.1:8081' }),
      'http://127.0.0.1:8080/shop/',
    );
    assert.equal(
      appUrl(urls(), 'my app', { proto: 'http', host: 'box' }),
      'http://box:8080/my%20app/',
    );
  });

  test('with DOMAIN: <workspace>.<DOMAIN>, by path on the domain when the name is no DNS label', () => {
    const d = urls({ domain: 'example.com' });
    assert.equal(
      appUrl(d, 'shop', { proto: 'https', host: 'monitor.example.com' }),
      'https://shop.example.com/',
    );
    assert.equal(
      appUrl(d, 'shop', { proto: 'http', host: 'monitor.example.com:8081' }),
      'http://shop.example.com:8080/',
    );
    assert.equal(
      appUrl(d, 'My_App', { proto: 'https', host: 'monitor.example.com' }),
      'https://example.com/My_App/',
    );
  });

  test('MONITOR_APPS_URL wins', () => {
    const o = urls({ appsUrl: 'https://apps.example.net' });
    assert.equal(appUrl(o, 'shop', { proto: 'http', host: 'x' }), 'https://apps.example.net/shop/');
  });
});
