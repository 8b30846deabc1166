import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hostName, mapRoute, type Route } from './route-map.ts';
import { RESERVED_WORKSPACE_NAMES } from '../../common/workspace-name.ts';

const at = (url: string, host = 'localhost:8080', domain?: string): Route =>
  mapRoute({ host, url, domain });

describe('mapRoute: path routing', () => {
  test('strips the workspace prefix and keeps the rest of the path and the query', () => {
    assert.deepEqual(at('/shop/'), {
      kind: 'workspace',
      workspace: 'shop',
      via: 'path',
      forwardPath: '/',
      prefix: '/shop',
    });
    assert.deepEqual(at('/shop/api/items/7?sort=asc&x=%20y'), {
      kind: 'workspace',
      workspace: 'shop',
      via: 'path',
      forwardPath: '/api/items/7?sort=asc&x=%20y',
      prefix: '/shop',
    });
    assert.deepEqual(at('/shop/?q=1'), {
      kind: 'workspace',
      workspace: 'shop',
      via: 'path',
      forwardPath: '/?q=1',
      prefix: '/shop',
    });
  });

  test('keeps the encoding of the forwarded path exactly as received', () => {
    const r = at('/shop/a%2Fb/c%20d/%E2%82%AC');
    assert.equal(r.kind === 'workspace' && r.forwardPath, '/a%2Fb/c%20d/%E2%82%AC');
  });

  test('/<workspace> redirects to /<workspace>/ with the query kept', () => {
    assert.deepEqual(at('/shop'), { kind: 'redirect', location: '/shop/' });
    assert.deepEqual(at('/shop?a=1&b=2'), { kind: 'redirect', location: '/shop/?a=1&b=2' });
  });

  test('encoded names are decoded for the workspace and re-encoded for the prefix', () => {
    assert.deepEqual(at('/my%20app/x?y=1'), {
      kind: 'workspace',
      workspace: 'my app',
      via: 'path',
      forwardPath: '/x?y=1',
      prefix: '/my%20app',
    });
    assert.deepEqual(at('/caf%C3%A9'), { kind: 'redirect', location: '/caf%C3%A9/' });
    assert.deepEqual(at('/My-App_2/'), {
      kind: 'workspace',
      workspace: 'My-App_2',
      via: 'path',
      forwardPath: '/',
      prefix: '/My-App_2',
    });
  });

  test('names that cannot be workspaces are never proxied', () => {
    for (const url of [
      '/a%2Fb/',
      '/%2e%2e/x',
      '/..%2F/',
      '/.hidden/',
      '/%00/',
      '/%E0%A4%A/',
      '//evil.example/',
      '/a%5Cb/',
    ]) {
      assert.equal(at(url).kind, 'not-found', url);
    }
  });

  test('/ redirects to the dashboard on the admin origin', () => {
    assert.deepEqual(at('/'), { kind: 'admin', path: '/monitor' });
    assert.deepEqual(at('/?x=1'), { kind: 'admin', path: '/monitor' });
  });

  test('regression: the dashboard and the API are not served on the apps origin', () => {
    assert.deepEqual(at('/monitor'), { kind: 'admin', path: '/monitor' });
    assert.deepEqual(at('/monitor/x?y=1'), { kind: 'admin', path: '/monitor/x?y=1' });
    assert.deepEqual(at('/login?next=/monitor'), { kind: 'admin', path: '/login?next=/monitor' });
    for (const url of [
      '/api/workspaces/victim/stop',
      '/api/v0/mounts',
      '/api',
      '/metrics',
      '/assets/dashboard.js',
    ]) {
      assert.equal(at(url).kind, 'not-found', url);
    }
    assert.deepEqual(at('/healthz'), { kind: 'health' });
    assert.deepEqual(at('/healthz?x=1'), { kind: 'health' });
    assert.equal(at('/healthz/x').kind, 'not-found');
  });

  test('reserved names are never proxied, in any spelling', () => {
    for (const name of RESERVED_WORKSPACE_NAMES) {
      for (const url of [`/${name}`, `/${name}/`, `/${name}/x`]) {
        assert.ok(['admin', 'health', 'not-found'].includes(at(url).kind), url);
      }
      // Percent-encoded spellings of a reserved name reach neither the monitor nor a container.
      const encoded = `/%${name.charCodeAt(0).toString(16)}${name.slice(1)}/`;
      assert.equal(at(encoded).kind, 'not-found', encoded);
    }
  });

  test('an absolute-form request target is reduced to its path', () => {
    assert.deepEqual(at('http://localhost:8080/shop/x?y'), {
      kind: 'workspace',
      workspace: 'shop',
      via: 'path',
      forwardPath: '/x?y',
      prefix: '/shop',
    });
    assert.equal(at('*').kind, 'not-found');
  });
});

describe('mapRoute: subdomains with DOMAIN', () => {
  const domain = 'apps.example.com';

  test('<workspace>.<DOMAIN> proxies the whole path, no prefix', () => {
    assert.deepEqual(at('/api/x?y=1', 'shop.apps.example.com', domain), {
      kind: 'workspace',
      workspace: 'shop',
      via: 'subdomain',
      forwardPath: '/api/x?y=1',
      prefix: '',
    });
    // The app owns its whole host, reserved paths included.
    const root = at('/', 'shop.apps.example.com', domain);
    assert.equal(root.kind === 'workspace' && root.forwardPath, '/');
    const monitor = at('/monitor', 'shop.apps.example.com', domain);
    assert.equal(monitor.kind === 'workspace' && monitor.forwardPath, '/monitor');
  });

  test('matches case-insensitively and ignores a port and a trailing dot', () => {
    for (const host of [
      'SHOP.Apps.Example.COM',
      'shop.apps.example.com:8443',
      'shop.apps.example.com.',
    ]) {
      const r = at('/x', host, 'Apps.Example.com');
      assert.equal(r.kind === 'workspace' && r.workspace, 'shop', host);
    }
  });

  test('nested subdomains and reserved labels are rejected; the admin host is named', () => {
    assert.equal(at('/', 'a.shop.apps.example.com', domain).kind, 'not-found');
    assert.equal(at('/', 'api.apps.example.com', domain).kind, 'not-found');
    const admin = at('/monitor', 'monitor.apps.example.com', domain);
    assert.equal(admin.kind, 'not-found');
    assert.match(admin.kind === 'not-found' ? admin.reason : '', /MONITOR_ADMIN_PORT/);
  });

  test('the domain itself and other hosts route by path', () => {
    assert.deepEqual(at('/shop/x', 'apps.example.com', domain), {
      kind: 'workspace',
      workspace: 'shop',
      via: 'path',
      forwardPath: '/x',
      prefix: '/shop',
    });
    assert.deepEqual(at('/', 'apps.example.com:80', domain), { kind: 'admin', path: '/monitor' });
    assert.equal(at('/monitor', '127.0.0.1:8080', domain).kind, 'admin');
    // A host that merely ends with the domain's text is not under it.
    assert.equal(at('/', 'evilapps.example.com', domain).kind, 'admin');
    assert.equal(at('/', undefined, domain).kind, 'admin');
  });

  test('without DOMAIN, subdomains mean nothing', () => {
    assert.deepEqual(at('/', 'shop.apps.example.com'), { kind: 'admin', path: '/monitor' });
  });
});

test('hostName drops the port, keeps IPv6 brackets, lower-cases', () => {
  assert.equal(hostName('Example.COM:8080'), 'example.com');
  assert.equal(hostName('[::1]:8080'), '[::1]');
  assert.equal(hostName(undefined), '');
});
