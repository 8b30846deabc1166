// The monitor's HTTP layer over real HTTP: auth, REST API, events, logs, metrics, health.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import { BucketspaceError } from '../services/common/errors.ts';
import { SESSION_COOKIE } from '../services/monitor/http/monitor-auth.ts';
import { startMonitor, TEST_TOKEN, type MonitorFixture } from './support/monitor-fixture.ts';
import { openSse, type SseReader } from './support/sse-reader.ts';

let fixture: MonitorFixture | undefined;
const streams: SseReader[] = [];
afterEach(async () => {
  for (const s of streams.splice(0)) s.close();
  await fixture?.close();
  fixture = undefined;
});

async function monitor(options: Parameters<typeof startMonitor>[0] = {}): Promise<MonitorFixture> {
  fixture = await startMonitor(options);
  return fixture;
}

async function sse(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
  const s = await openSse(url, headers);
  streams.push(s);
  return s;
}

/** Log in through the form; returns the session cookie pair (`name=value`). */
async function login(
  m: MonitorFixture,
  extra: Record<string, string> = {},
  token = TEST_TOKEN,
): Promise<Response> {
  return fetch(`${m.base}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: m.base, ...extra },
    body: new URLSearchParams({ token, next: '/monitor' }).toString(),
    redirect: 'manual',
  });
}

function cookiePair(res: Response): string {
  const set = res.headers.get('set-cookie') ?? '';
  return set.split(';')[0] ?? '';
}

describe('auth', () => {
  const protectedRoutes: [string, string][] = [
    ['GET', '/api/status'],
    ['GET', '/api/workspaces'],
    ['GET', '/api/workspaces/shop'],
    ['POST', '/api/workspaces/shop/restart'],
    ['POST', '/api/workspaces/shop/stop'],
    ['POST', '/api/workspaces/shop/start'],
    ['GET', '/api/workspaces/shop/logs'],
    ['GET', '/api/workspaces/shop/logs?follow=1'],
    ['GET', '/api/events'],
    ['POST', '/api/hooks/changed'],
    ['GET', '/api/v0/mounts'],
    ['GET', '/api/no-such-route'],
    ['GET', '/metrics'],
  ];

  test('missing or wrong token: 401 on every API route, SSE, logs and metrics, and nothing leaks or runs', async () => {
    const mounts = express.Router();
    mounts.get('/', (_req, res) => {
      res.json([{ id: 'm1', bucket: 'secret-bucket-name' }]);
    });
    // Each request from its own client address, so the guess lockout (tested below) stays out of it.
    const m = await monitor({
      trustProxy: true,
      extraApiRouters: [{ path: '/api/v0/mounts', router: mounts }],
    });
    let client = 0;
    m.api.put({ name: 'shop', reason: 'secret-reason-text' });
    m.api.log('shop', 'secret log line');
    const variants: Record<string, Record<string, string>> = {
      missing: {},
      wrong: { authorization: `Bearer ${TEST_TOKEN}x` },
      prefix: { authorization: `Bearer ${TEST_TOKEN.slice(0, -1)}` },
      basic: { authorization: `Basic ${Buffer.from(`x:${TEST_TOKEN}`).toString('base64')}` },
      'raw token as cookie': { cookie: `${SESSION_COOKIE}=${TEST_TOKEN}` },
      'forged cookie': { cookie: `${SESSION_COOKIE}=v1.zzzzzzzz.AAAA` },
    };
    for (const [method, path] of protectedRoutes) {
      for (const [label, headers] of Object.entries(variants)) {
        const res = await fetch(`${m.base}${path}`, {
          method,
          headers: {
            'content-type': 'application/json',
            'x-forwarded-for': `198.51.100.${++client}`,
            ...headers,
          },
          ...(method === 'POST' ? { body: '{"workspaces":["shop"]}' } : {}),
        });
        const text = await res.text();
        assert.equal(res.status, 401, `${method} ${path} (${label})`);
        assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="bucketspace monitor"');
        assert.deepEqual(
          (JSON.parse(text) as { error: { code: string } }).error.code,
          'UNAUTHORIZED',
          `${method} ${path}`,
        );
        for (const secret of ['shop', 'secret', 'bucketspace_', 'node', 'process_']) {
          assert.ok(
            !text.includes(secret),
            `${method} ${path} (${label}) leaks "${secret}": ${text}`,
          );
        }
      }
    }
    assert.deepEqual(m.api.calls, [], 'no API call was made for an unauthenticated request');
    assert.equal(m.api.subscriberCount, 0);
  });

  test('the bearer token opens every route', async () => {
    const mounts = express.Router();
    mounts.get('/', (_req, res) => {
      res.json([]);
    });
    const m = await monitor({ extraApiRouters: [{ path: '/api/v0/mounts', router: mounts }] });
    m.api.put({ name: 'shop' });
    for (const [method, path] of protectedRoutes) {
      if (path.includes('follow') || path.endsWith('/events')) continue;
      const res = await fetch(`${m.base}${path}`, {
        method,
        headers: m.auth({ 'content-type': 'application/json' }),
        ...(method === 'POST' ? { body: '{}' } : {}),
      });
      await res.arrayBuffer();
      const expected = path === '/api/no-such-route' ? 404 : method === 'POST' ? 202 : 200;
      assert.equal(res.status, expected, `${method} ${path}`);
    }
  });

  test('no auth on /healthz and on app routes', async () => {
    const m = await monitor();
    const health = await fetch(`${m.base}/healthz`);
    assert.equal(health.status, 200);
    const unknownApp = await fetch(`${m.appsBase}/some-app/`);
    assert.equal(
      unknownApp.status,
      404,
      'an app route answers without a token (here: no such app)',
    );
    assert.equal(unknownApp.headers.get('www-authenticate'), null);
  });

  test('login form: 401 page without a session, wrong token refused, right token sets a safe cookie', async () => {
    const m = await monitor();
    const page = await fetch(`${m.base}/monitor`);
    assert.equal(page.status, 401);
    const html = await page.text();
    assert.match(html, /<form method="post" action="\/login">/);
    assert.match(html, /type="password"/);
    assert.ok(!html.includes('dashboard.js'), 'the dashboard is not served before login');

    const wrong = await fetch(`${m.base}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: m.base },
      body: 'token=nope&next=%2Fmonitor',
      redirect: 'manual',
    });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get('set-cookie'), null);
    assert.match(await wrong.text(), /Wrong token/);

    const ok = await login(m);
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get('location'), '/monitor');
    const setCookie = ok.headers.get('set-cookie') ?? '';
    const attrs = setCookie.split('; ');
    assert.ok(attrs[0]?.startsWith(`${SESSION_COOKIE}=`));
    for (const flag of ['HttpOnly', 'SameSite=Strict', 'Path=/'])
      assert.ok(attrs.includes(flag), flag);
    assert.ok(!attrs.includes('Secure'), 'no Secure flag over plain http');
    assert.ok(!setCookie.includes(TEST_TOKEN), 'the cookie is not the token');

    const cookie = cookiePair(ok);
    const dashboard = await fetch(`${m.base}/monitor`, { headers: { cookie } });
    assert.equal(dashboard.status, 200);
    assert.match(await dashboard.text(), /\/assets\/dashboard\.js/);
    assert.match(dashboard.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const list = await fetch(`${m.base}/api/workspaces`, { headers: { cookie } });
    assert.equal(list.status, 200);

    const out = await fetch(`${m.base}/logout`, {
      method: 'POST',
      headers: { cookie, origin: m.base },
      redirect: 'manual',
    });
    assert.equal(out.status, 303);
    assert.match(
      out.headers.get('set-cookie') ?? '',
      new RegExp(`^${SESSION_COOKIE}=; .*Max-Age=0`),
    );
  });

  test('after login only dashboard pages are redirect targets (no open redirect)', async () => {
    const m = await monitor();
    for (const next of [
      '//evil.example/',
      'https://evil.example/',
      '/shop/',
      '/monitor//evil',
      '/\\evil',
    ]) {
      const res = await fetch(`${m.base}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: m.base },
        body: new URLSearchParams({ token: TEST_TOKEN, next }).toString(),
        redirect: 'manual',
      });
      assert.equal(res.headers.get('location'), '/monitor', next);
    }
  });

  test('the cookie is Secure behind a trusted https proxy, and only then', async () => {
    const untrusted = await monitor();
    const plain = await login(untrusted, { 'x-forwarded-proto': 'https' });
    assert.ok(!(plain.headers.get('set-cookie') ?? '').includes('Secure'));
    await untrusted.close();
    const trusted = await monitor({ trustProxy: true });
    const secure = await login(trusted, {
      'x-forwarded-proto': 'https',
      origin: `https://127.0.0.1:${trusted.port}`,
    });
    assert.ok((secure.headers.get('set-cookie') ?? '').split('; ').includes('Secure'));
  });

  test('CSRF: state-changing calls with the cookie must come from the admin origin; bearer calls need no check', async () => {
    const m = await monitor();
    m.api.put({ name: 'shop' });
    const cookie = cookiePair(await login(m));
    const post = (headers: Record<string, string>) =>
      fetch(`${m.base}/api/workspaces/shop/restart`, { method: 'POST', headers });

    const bare = await post({ cookie });
    assert.equal(bare.status, 403);
    assert.equal(((await bare.json()) as { error: { code: string } }).error.code, 'FORBIDDEN');
    assert.equal((await post({ cookie, origin: 'http://evil.example' })).status, 403);
    assert.equal(
      (await post({ cookie, 'sec-fetch-site': 'cross-site', origin: m.base })).status,
      403,
    );
    assert.equal((await post({ cookie, 'sec-fetch-site': 'same-site' })).status, 403);
    // Regression: an app's page on the apps origin (same host, another port) is not the dashboard.
    assert.equal((await post({ cookie, origin: m.appsBase })).status, 403);
    assert.equal(
      (await post({ cookie, origin: m.appsBase, 'sec-fetch-site': 'same-origin' })).status,
      403,
    );
    assert.equal((await post({ cookie, referer: `${m.appsBase}/evil/` })).status, 403);
    assert.deepEqual(m.api.callsOf('restart'), [], 'refused calls did nothing');

    assert.equal((await post({ cookie, origin: m.base })).status, 202);
    assert.equal((await post({ cookie, 'sec-fetch-site': 'same-origin' })).status, 202);
    assert.equal((await post({ cookie, referer: `${m.base}/monitor` })).status, 202);
    assert.equal((await post(m.auth())).status, 202, 'bearer: no origin needed');
    assert.equal(m.api.callsOf('restart').length, 4);
  });

  test('login and logout forms are only taken from the admin origin', async () => {
    const m = await monitor();
    for (const origin of [m.appsBase, 'http://evil.example']) {
      const res = await login(m, { origin });
      assert.equal(res.status, 403, origin);
      assert.equal(res.headers.get('set-cookie'), null);
    }
    const none = await fetch(`${m.base}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${TEST_TOKEN}`,
      redirect: 'manual',
    });
    assert.equal(none.status, 403, 'no Origin, Referer or Sec-Fetch-Site: not a form of ours');
    const cookie = cookiePair(await login(m));
    const out = await fetch(`${m.base}/logout`, {
      method: 'POST',
      headers: { cookie, origin: m.appsBase },
      redirect: 'manual',
    });
    assert.equal(out.status, 403);
    assert.equal(out.headers.get('set-cookie'), null, 'an app cannot log the admin out');
  });

  test('regression: token guesses are limited: 10 wrong tokens lock the address out, 429 with Retry-After', async () => {
    const m = await monitor();
    const session = cookiePair(await login(m));
    for (let i = 0; i < 9; i++) {
      const res = await fetch(`${m.base}/api/workspaces`, {
        headers: { authorization: `Bearer wrong-guess-${i}-xxxxxxxx` },
      });
      assert.equal(res.status, 401, `guess ${i + 1}`);
    }
    const tenth = await login(m, {}, 'wrong-guess-9-xxxxxxxx');
    assert.equal(tenth.status, 429, 'the tenth wrong token starts the lockout');
    assert.match(await tenth.text(), /Too many wrong tokens from your address/);
    const locked = await fetch(`${m.base}/api/workspaces`, { headers: m.auth() });
    assert.equal(locked.status, 429, 'even the right token is refused unchecked');
    assert.equal(locked.headers.get('retry-after'), '900');
    assert.deepEqual(
      ((await locked.json()) as { error: { code: string } }).error.code,
      'TOO_MANY_ATTEMPTS',
    );
    assert.equal((await login(m)).status, 429, 'the login form too');
    assert.equal((await fetch(`${m.base}/metrics`, { headers: m.auth() })).status, 429);
    const withSession = await fetch(`${m.base}/api/workspaces`, { headers: { cookie: session } });
    assert.equal(withSession.status, 200, 'a session from before goes on');
    const withoutCredentials = await fetch(`${m.base}/api/workspaces`);
    assert.equal(withoutCredentials.status, 401, 'asking without a token is no guess');
  });

  test('a trusted proxy’s client address is the one locked out, not the proxy', async () => {
    const m = await monitor({ trustProxy: true });
    const from = (ip: string, token: string) =>
      fetch(`${m.base}/api/workspaces`, {
        headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': `1.1.1.1, ${ip}` },
      });
    for (let i = 0; i < 10; i++)
      await (await from('203.0.113.7', `wrong-${i}-xxxxxxxxxxxx`)).text();
    assert.equal((await from('203.0.113.7', TEST_TOKEN)).status, 429);
    assert.equal((await from('203.0.113.8', TEST_TOKEN)).status, 200, 'another client is not');
  });
});

describe('REST API', () => {
  test('lists and shows workspaces; unknown ones are 404 JSON', async () => {
    const m = await monitor();
    m.api.put({ name: 'b-site', type: 'static', state: 'stopped' });
    m.api.put({ name: 'a shop', type: 'node' });
    const list = (await (
      await fetch(`${m.base}/api/workspaces`, { headers: m.auth() })
    ).json()) as {
      workspaces: { name: string; state: string }[];
    };
    assert.deepEqual(
      list.workspaces.map((w) => [w.name, w.state]),
      [
        ['a shop', 'running'],
        ['b-site', 'stopped'],
      ],
    );
    const one = await fetch(`${m.base}/api/workspaces/a%20shop`, { headers: m.auth() });
    assert.equal(((await one.json()) as { workspace: { type: string } }).workspace.type, 'node');
    const missing = await fetch(`${m.base}/api/workspaces/nope`, { headers: m.auth() });
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), {
      error: { code: 'NOT_FOUND', message: 'no workspace named "nope"' },
    });
    m.api.setStatus({ isolation: 'failed', isolationReason: 'the firewall image is missing' });
    const status = await fetch(`${m.base}/api/status`, { headers: m.auth() });
    assert.deepEqual(await status.json(), { status: m.api.status() });
    assert.equal(m.api.status().isolationReason, 'the firewall image is missing');
  });

  test('restart, stop and start reach the API and answer 202 with the new view', async () => {
    const m = await monitor();
    m.api.put({ name: 'shop' });
    for (const action of ['restart', 'stop', 'start']) {
      const res = await fetch(`${m.base}/api/workspaces/shop/${action}`, {
        method: 'POST',
        headers: m.auth(),
      });
      assert.equal(res.status, 202, action);
      const body = (await res.json()) as { workspace: { state: string } };
      assert.equal(body.workspace.state, action === 'stop' ? 'stopped' : 'starting');
    }
    assert.deepEqual(
      m.api.calls.map((c) => [c.method, c.args]),
      [
        ['restart', ['shop']],
        ['stop', ['shop']],
        ['start', ['shop']],
      ],
    );
  });

  test('error codes become statuses with JSON bodies, never stack traces', async () => {
    const m = await monitor();
    m.api.put({ name: 'shop' });
    m.api.put({ name: 'notes', state: 'unrecognized', type: null });
    const post = (path: string) => fetch(`${m.base}${path}`, { method: 'POST', headers: m.auth() });

    const conflict = await post('/api/workspaces/notes/start');
    assert.equal(conflict.status, 409);
    assert.deepEqual(await conflict.json(), {
      error: { code: 'CONFLICT', message: 'notes is unrecognized: there is nothing to start' },
    });

    m.api.failNext.set(
      'shop',
      new BucketspaceError('DOCKER_UNREACHABLE', 'Docker is not answering'),
    );
    const docker = await post('/api/workspaces/shop/restart');
    assert.equal(docker.status, 503);
    assert.equal(
      ((await docker.json()) as { error: { code: string } }).error.code,
      'DOCKER_UNREACHABLE',
    );

    const unexpected = Object.assign(new Error('EACCES /var/run/docker.sock at line 42'), {
      stack: 'Error: EACCES\n    at secret (/srv/internal.ts:1:1)',
    });
    m.api.failNext.set('shop', unexpected as unknown as BucketspaceError);
    const internal = await post('/api/workspaces/shop/stop');
    assert.equal(internal.status, 500);
    const text = await internal.text();
    assert.deepEqual(JSON.parse(text), { error: { code: 'INTERNAL', message: 'internal error' } });

    const unknownPage = await fetch(`${m.base}/monitor/nothing-here`);
    assert.equal(unknownPage.status, 404);
    const html = await unknownPage.text();
    assert.match(html, /<!doctype html>/);
    assert.ok(!/\bat .*\.ts:\d+/.test(html), 'no stack trace in pages');
  });

  test('the sync hook: names reach notifyChanged; empty means all; bad bodies are 400', async () => {
    const m = await monitor();
    const hook = (body: string | undefined, type = 'application/json') =>
      fetch(`${m.base}/api/hooks/changed`, {
        method: 'POST',
        headers: m.auth(body === undefined ? {} : { 'content-type': type }),
        ...(body === undefined ? {} : { body }),
      });
    const res = await hook('{"workspaces":["shop","blog","shop"]}');
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { accepted: ['shop', 'blog'] });
    assert.equal((await hook(undefined)).status, 202);
    assert.equal((await hook('{}')).status, 202);
    assert.deepEqual(m.api.callsOf('notifyChanged'), [[['shop', 'blog']], [[]], [[]]]);

    const invalid = await hook('{"workspaces":"shop"}');
    assert.equal(invalid.status, 400);
    assert.equal(
      ((await invalid.json()) as { error: { code: string } }).error.code,
      'INVALID_INPUT',
    );
    const notJson = await hook('{nope');
    assert.equal(notJson.status, 400);
    assert.deepEqual(await notJson.json(), {
      error: { code: 'INVALID_INPUT', message: 'the request body is not valid JSON' },
    });
    assert.equal(m.api.callsOf('notifyChanged').length, 3);
  });

  test('an extra router (the mount manager) is mounted under /api behind the token', async () => {
    const router = express.Router();
    router.get('/', (_req, res) => {
      res.json([{ id: 'm1', bucket: 'data', state: 'mounted' }]);
    });
    const m = await monitor({ extraApiRouters: [{ path: '/api/v0/mounts', router }] });
    const res = await fetch(`${m.base}/api/v0/mounts`, { headers: m.auth() });
    assert.deepEqual(await res.json(), [{ id: 'm1', bucket: 'data', state: 'mounted' }]);
    assert.equal((await fetch(`${m.base}/api/v0/mounts`)).status, 401);
  });
});

describe('logs', () => {
  test('tail as JSON; bad tail is 400; unknown workspace 404', async () => {
    const m = await monitor();
    m.api.put({ name: 'shop' });
    m.api.log('shop', 'one', 'two', 'three');
    const res = await fetch(`${m.base}/api/workspaces/shop/logs?tail=2`, { headers: m.auth() });
    assert.deepEqual(await res.json(), { name: 'shop', lines: ['two', 'three'] });
    assert.deepEqual(m.api.callsOf('logs'), [['shop', 2]]);
    for (const tail of ['0', '-1', 'x', '99999']) {
      const bad = await fetch(`${m.base}/api/workspaces/shop/logs?tail=${tail}`, {
        headers: m.auth(),
      });
      assert.equal(bad.status, 400, tail);
    }
    const none = await fetch(`${m.base}/api/workspaces/nope/logs?follow=1`, { headers: m.auth() });
    assert.equal(none.status, 404);
  });

  test('?follow=1 streams the tail then new lines as text, and ends with the container', async () => {
    const m = await monitor();
    m.api.put({ name: 'shop' });
    m.api.log('shop', 'before');
    const res = await fetch(`${m.base}/api/workspaces/shop/logs?follow=1`, { headers: m.auth() });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const readUntil = async (needle: string) => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`ended before "${needle}": ${text}`);
        text += value;
      }
    };
    await readUntil('before\n');
    while (m.api.followerCount('shop') === 0) await new Promise((r) => setTimeout(r, 10));
    m.api.log('shop', 'live 1');
    await readUntil('live 1\n');
    m.api.log('shop', 'live 2');
    await readUntil('live 2\n');
    m.api.endLogs('shop');
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    assert.equal(text, 'before\nlive 1\nlive 2\n');
  });

  test('?follow=1 as server-sent events for EventSource; a client that leaves stops the follower', async () => {
    const m = await monitor();
    m.api.put({ name: 'shop' });
    m.api.log('shop', 'old line');
    const s = await sse(`${m.base}/api/workspaces/shop/logs?follow=1&tail=5`, m.auth());
    assert.equal(s.status, 200);
    await s.next((e) => e.event === 'line' && JSON.parse(e.data) === 'old line');
    while (m.api.followerCount('shop') === 0) await new Promise((r) => setTimeout(r, 10));
    m.api.log('shop', 'new <b>line</b>');
    await s.next((e) => e.event === 'line' && JSON.parse(e.data) === 'new <b>line</b>');
    s.close();
    while (m.api.followerCount('shop') > 0) await new Promise((r) => setTimeout(r, 10));
  });
});

describe('events (SSE)', () => {
  test('retry, snapshot, then workspace, removal and status events as they happen, with heartbeats', async () => {
    const m = await monitor({ heartbeatMs: 50, retryMs: 1234 });
    m.api.put({ name: 'shop' });
    const s = await sse(`${m.base}/api/events`, m.auth());
    assert.equal(s.status, 200);
    assert.match(s.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(s.headers.get('cache-control'), 'no-cache, no-transform');
    const retry = await s.next((e) => e.retry !== undefined);
    assert.equal(retry.retry, 1234);
    const snapshot = await s.next((e) => e.event === 'snapshot');
    const snap = JSON.parse(snapshot.data) as {
      workspaces: { name: string }[];
      status: { docker: string };
    };
    assert.deepEqual(
      snap.workspaces.map((w) => w.name),
      ['shop'],
    );
    assert.equal(snap.status.docker, 'ok');

    m.api.setState('shop', 'crashing', 'exited with code 1');
    const changed = await s.next((e) => e.event === 'workspace');
    assert.deepEqual(
      (({ name, state, message }) => ({ name, state, message }))(
        JSON.parse(changed.data) as { name: string; state: string; message: string },
      ),
      { name: 'shop', state: 'crashing', message: 'exited with code 1' },
    );
    m.api.delete('shop');
    const removed = await s.next((e) => e.event === 'workspace-removed');
    assert.deepEqual(JSON.parse(removed.data), { name: 'shop' });
    m.api.setStatus({ docker: 'unreachable', dockerReason: 'connect ENOENT /var/run/docker.sock' });
    const status = await s.next((e) => e.event === 'status');
    assert.equal((JSON.parse(status.data) as { docker: string }).docker, 'unreachable');
    await s.next((e) => e.comment === 'ping');

    const order = s.events.filter((e) => e.event !== '').map((e) => e.event);
    assert.deepEqual(order.slice(0, 2), ['message', 'snapshot'], 'retry first, then the snapshot');
    s.close();
    while (m.api.subscriberCount > 0) await new Promise((r) => setTimeout(r, 10));
  });

  test('the session cookie works for EventSource', async () => {
    const m = await monitor();
    const cookie = cookiePair(await login(m));
    const s = await sse(`${m.base}/api/events`, { cookie });
    assert.equal(s.status, 200);
    await s.next((e) => e.event === 'snapshot');
  });
});

describe('health and metrics', () => {
  test('/healthz is 200 when Docker, the mount and the apps firewall are ok, 503 otherwise, and says no more', async () => {
    const m = await monitor();
    const ok = await fetch(`${m.base}/healthz`);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), {
      status: 'ok',
      docker: 'ok',
      mount: 'ok',
      isolation: 'on',
    });
    m.api.setStatus({ mount: 'unavailable', mountReason: 'ENOTCONN on /workspaces (secret path)' });
    const bad = await fetch(`${m.base}/healthz`);
    assert.equal(bad.status, 503);
    assert.deepEqual(await bad.json(), {
      status: 'unavailable',
      docker: 'ok',
      mount: 'unavailable',
      isolation: 'on',
    });
    m.api.setStatus({ mount: 'ok', docker: 'unreachable' });
    assert.equal((await fetch(`${m.base}/healthz`)).status, 503);
    m.api.setStatus({ docker: 'ok', isolation: 'failed', isolationReason: 'no DOCKER-USER chain' });
    const noFirewall = await fetch(`${m.base}/healthz`);
    assert.equal(noFirewall.status, 503);
    assert.deepEqual(await noFirewall.json(), {
      status: 'unavailable',
      docker: 'ok',
      mount: 'ok',
      isolation: 'failed',
    });
    m.api.setStatus({ isolation: 'off', isolationReason: null });
    assert.equal((await fetch(`${m.base}/healthz`)).status, 200);
  });

  test('/metrics: default metrics, workspaces by state, restarts, proxy traffic', async () => {
    const m = await monitor();
    m.api.put({ name: 'shop' });
    m.api.put({ name: 'blog', state: 'crashing' });
    m.http.metrics.recordRestart({ workspace: 'blog', reason: 'crash' });
    await (await fetch(`${m.appsBase}/blog/`)).text(); // 503: not ready
    const res = await fetch(`${m.base}/metrics`, { headers: m.auth() });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.match(text, /^bucketspace_workspaces\{state="running"\} 1$/m);
    assert.match(text, /^bucketspace_workspaces\{state="crashing"\} 1$/m);
    assert.match(text, /^bucketspace_workspaces\{state="stopped"\} 0$/m);
    assert.match(
      text,
      /^bucketspace_workspace_restarts_total\{workspace="blog",reason="crash"\} 1$/m,
    );
    assert.match(text, /^bucketspace_proxy_requests_total\{workspace="blog",status="503"\} 1$/m);
    assert.match(text, /^bucketspace_monitor_process_cpu_user_seconds_total /m);
  });
});
