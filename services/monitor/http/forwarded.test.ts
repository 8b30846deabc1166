import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { forwardedHeaders, isAdminOriginRequest, normalizeOrigin } from './forwarded.ts';

function request(headers: Record<string, string>, remoteAddress = '10.0.0.7'): IncomingMessage {
  return { headers, socket: { remoteAddress } } as unknown as IncomingMessage;
}

describe('forwardedHeaders', () => {
  test('sets For/Host/Proto/Prefix and drops client-sent forwarding headers when not trusting a proxy', () => {
    const h = forwardedHeaders({
      req: request({
        host: 'box:8080',
        'x-forwarded-for': '1.2.3.4',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-prefix': '/evil',
        forwarded: 'for=1.2.3.4',
        'x-real-ip': '1.2.3.4',
        accept: 'text/html',
      }),
      trustProxy: false,
      prefix: '/shop',
    });
    assert.equal(h['x-forwarded-for'], '10.0.0.7');
    assert.equal(h['x-forwarded-host'], 'box:8080');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-prefix'], '/shop');
    assert.equal(h.forwarded, undefined);
    assert.equal(h['x-real-ip'], undefined);
    assert.equal(h.accept, 'text/html', 'other headers pass');
    assert.equal(h.host, 'box:8080', 'the Host header is kept');
  });

  test('with a trusted front proxy, its headers are honoured and extended', () => {
    const h = forwardedHeaders({
      req: request({
        host: 'monitor:8080',
        'x-forwarded-for': '1.2.3.4, 5.6.7.8',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'apps.example.com',
        'x-forwarded-prefix': '/tools/',
      }),
      trustProxy: true,
      prefix: '/shop',
    });
    assert.equal(h['x-forwarded-for'], '1.2.3.4, 5.6.7.8, 10.0.0.7');
    assert.equal(h['x-forwarded-host'], 'apps.example.com');
    assert.equal(h['x-forwarded-proto'], 'https');
    assert.equal(h['x-forwarded-prefix'], '/tools/shop');
  });

  test('no prefix header on a subdomain', () => {
    const h = forwardedHeaders({
      req: request({ host: 'shop.example.com', 'x-forwarded-prefix': '/x' }),
      trustProxy: false,
      prefix: '',
    });
    assert.equal(h['x-forwarded-prefix'], undefined);
  });
});

describe('isAdminOriginRequest', () => {
  const check = (headers: Record<string, string>, adminOrigin?: string, trustProxy = false) =>
    isAdminOriginRequest(request(headers), { trustProxy, adminOrigin });

  test('Sec-Fetch-Site must be same-origin when the browser sends it', () => {
    assert.equal(check({ 'sec-fetch-site': 'same-origin' }), true);
    for (const site of ['same-site', 'cross-site', 'none']) {
      assert.equal(
        check({ 'sec-fetch-site': site, origin: 'http://box:8081', host: 'box:8081' }),
        false,
        site,
      );
    }
  });

  test('Origin must name the admin origin exactly', () => {
    const same = (origin: string, host: string) => check({ origin, host });
    assert.equal(same('http://box:8081', 'box:8081'), true);
    assert.equal(same('http://BOX:8081', 'box:8081'), true);
    assert.equal(same('http://box', 'box:80'), true);
    assert.equal(same('http://box:8080', 'box:8081'), false, 'the apps port of the same host');
    assert.equal(same('https://box:8081', 'box:8081'), false, 'scheme differs');
    assert.equal(same('http://shop.box:8081', 'box:8081'), false, 'a subdomain is another origin');
    assert.equal(same('null', 'box:8081'), false);
    assert.equal(same('not a url', 'box:8081'), false);
    assert.equal(check({ host: 'box:8081' }), false, 'no headers');
  });

  test('an app page that says same-origin but names its own origin is refused', () => {
    assert.equal(
      check({ 'sec-fetch-site': 'same-origin', origin: 'http://box:8080', host: 'box:8081' }),
      false,
    );
  });

  test('without Origin, the Referer’s origin decides', () => {
    assert.equal(check({ referer: 'http://box:8081/monitor', host: 'box:8081' }), true);
    assert.equal(check({ referer: 'http://box:8080/shop/', host: 'box:8081' }), false);
    assert.equal(
      check({ referer: 'http://box:8081/monitor?a=1,b', host: 'box:8081' }),
      true,
      'a comma in the URL',
    );
  });

  test('MONITOR_ADMIN_URL is an admin origin too, next to the listener’s own', () => {
    const admin = 'https://monitor.example.com';
    assert.equal(check({ origin: admin, host: 'monitor:8081' }, admin), true);
    assert.equal(check({ origin: 'http://monitor:8081', host: 'monitor:8081' }, admin), true);
    assert.equal(check({ origin: 'https://shop.example.com', host: 'monitor:8081' }, admin), false);
  });

  test('behind a trusted proxy the forwarded proto and host count', () => {
    const headers = {
      origin: 'https://monitor.example.com',
      host: 'monitor:8081',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'monitor.example.com',
    };
    assert.equal(check(headers, undefined, true), true);
    assert.equal(check(headers, undefined, false), false);
  });

  test('normalizeOrigin drops default ports', () => {
    assert.equal(normalizeOrigin('https', 'X.example:443'), 'https://x.example');
    assert.equal(normalizeOrigin('http', 'x.example:443'), 'http://x.example:443');
  });
});
