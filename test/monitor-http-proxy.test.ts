// The monitor's proxy over real HTTP: real upstream HTTP and websocket servers stand in for containers.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request as httpRequest, Agent, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import express from 'express';
import { SESSION_COOKIE } from '../services/monitor/http/monitor-auth.ts';
import { startMonitor, TEST_TOKEN, type MonitorFixture } from './support/monitor-fixture.ts';
import { openSse } from './support/sse-reader.ts';
import { startUpstream, type Upstream, type UpstreamHandler } from './support/upstream.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function monitor(options: Parameters<typeof startMonitor>[0] = {}): Promise<MonitorFixture> {
  const m = await startMonitor(options);
  cleanups.push(() => m.close());
  return m;
}

async function upstream(handler: UpstreamHandler): Promise<Upstream> {
  const u = await startUpstream(handler);
  cleanups.push(() => u.close());
  return u;
}

/** A running workspace `name` served by `handler`. */
async function app(m: MonitorFixture, name: string, handler: UpstreamHandler): Promise<Upstream> {
  const u = await upstream(handler);
  m.api.put({ name });
  m.api.setTarget(name, u.target);
  return u;
}

/** A stand-in for the mount manager's router: answers anything with 201. */
function mountsRouterStub(): express.Router {
  const router = express.Router();
  router.all('/', (_req, res) => {
    res.status(201).json({ created: true });
  });
  return router;
}

/** Log in on the admin origin; the session cookie pair (`name=value`). */
async function sessionCookie(m: MonitorFixture): Promise<string> {
  const res = await fetch(`${m.base}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: m.base },
    body: new URLSearchParams({ token: TEST_TOKEN, next: '/monitor' }).toString(),
    redirect: 'manual',
  });
  assert.equal(res.status, 303);
  return (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
}

const echo: UpstreamHandler = (req, res, seen) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ method: seen.method, url: seen.url, body: seen.body }));
};

/** The path the echo app saw. */
function urlOf(body: string): string {
  return (JSON.parse(body) as { url: string }).url;
}

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A request with full control of the headers (Host included), one connection each. */
function raw(
  port: number,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.headers,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Node's own WebSocket client, with its messages queued. */
function connectWs(url: string) {
  const ws = new WebSocket(url);
  const messages: string[] = [];
  const waiters: (() => void)[] = [];
  ws.addEventListener('message', (e) => {
    messages.push(String(e.data));
    waiters.splice(0).forEach((w) => w());
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve());
    ws.addEventListener('error', () => reject(new Error(`websocket to ${url} failed`)));
  });
  const closed = new Promise<void>((resolve) => ws.addEventListener('close', () => resolve()));
  return {
    ws,
    opened,
    closed,
    async next(): Promise<string> {
      while (messages.length === 0) await new Promise<void>((r) => waiters.push(r));
      return messages.shift()!;
    },
  };
}

describe('proxying to a workspace', () => {
  test('strips the prefix, keeps the query, method and body, sets the forwarding headers', async () => {
    const m = await monitor();
    const u = await app(m, 'shop', echo);
    const res = await raw(m.appsPort, {
      method: 'POST',
      path: '/shop/api/items?sort=asc&q=a%20b',
      headers: {
        host: `box.local:${m.appsPort}`,
        'content-type': 'text/plain',
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'spoofed.example',
        'x-forwarded-prefix': '/spoofed',
      },
      body: 'a body',
    });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), {
      method: 'POST',
      url: '/api/items?sort=asc&q=a%20b',
      body: 'a body',
    });
    const h = u.seen[0]!.headers;
    assert.equal(h['x-forwarded-prefix'], '/shop');
    assert.equal(h['x-forwarded-host'], `box.local:${m.appsPort}`);
    assert.equal(
      h['x-forwarded-proto'],
      'http',
      'a client cannot claim https without a trusted proxy',
    );
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
    assert.equal(h.host, `box.local:${m.appsPort}`, 'the Host header is passed as is');
  });

  test('with MONITOR_TRUST_PROXY the front proxy’s headers are honoured', async () => {
    const m = await monitor({ trustProxy: true });
    const u = await app(m, 'shop', echo);
    await raw(m.appsPort, {
      path: '/shop/',
      headers: {
        'x-forwarded-for': '203.0.113.9',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'apps.example.com',
      },
    });
    const h = u.seen[0]!.headers;
    assert.equal(h['x-forwarded-proto'], 'https');
    assert.equal(h['x-forwarded-host'], 'apps.example.com');
    assert.equal(h['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
  });

  test('apps never see the monitor’s session cookie, nor can they set it', async () => {
    const m = await monitor();
    const u = await app(m, 'shop', (_req, res) => {
      res.setHeader('set-cookie', [
        'app=1; Path=/',
        `${SESSION_COOKIE}=stolen; Path=/`,
        ` ${SESSION_COOKIE} =stolen-with-spaces`,
        `other_${SESSION_COOKIE}=ok`,
      ]);
      res.end('ok');
    });
    const res = await raw(m.appsPort, {
      path: '/shop/',
      headers: { cookie: `theme=dark; ${SESSION_COOKIE}=v1.abc.def; cart=3` },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.headers['set-cookie'], [
      'app=1; Path=/shop',
      `other_${SESSION_COOKIE}=ok`,
    ]);
    assert.equal(u.seen[0]!.headers.cookie, 'theme=dark; cart=3');
  });

  test('regression: the apps origin is no token oracle: Authorization headers reach the app unchanged', async () => {
    // Stripping the monitor's token here told an app's owner, from its own logs, which guess was
    // right, at any speed. The token belongs to the admin origin; nothing here looks at it.
    const m = await monitor();
    const u = await app(m, 'shop', echo);
    for (const authorization of [`Bearer ${TEST_TOKEN}`, 'Bearer the-apps-own-token']) {
      await raw(m.appsPort, { path: '/shop/', headers: { authorization } });
    }
    assert.deepEqual(
      u.seen.map((r) => r.headers.authorization),
      [`Bearer ${TEST_TOKEN}`, 'Bearer the-apps-own-token'],
    );
  });

  test('regression: Set-Cookie with `Path = /`, a doubled Path or a Domain stays under the prefix', async () => {
    const m = await monitor();
    await app(m, 'evil', (_req, res) => {
      res.setHeader('set-cookie', [
        'a=1; Path = /',
        'b=2; Path=/evil; Path=/',
        'c=3; PATH=/; path=/login',
        'd=4; Domain=127.0.0.1; Path=/',
      ]);
      res.end('ok');
    });
    const res = await raw(m.appsPort, { path: '/evil/' });
    assert.deepEqual(res.headers['set-cookie'], [
      'a=1; Path=/evil',
      'b=2; Path=/evil',
      'c=3; Path=/evil/login',
      'd=4; Path=/evil',
    ]);
  });

  test('regression: Service-Worker-Allowed cannot widen a worker’s scope beyond its app', async () => {
    const m = await monitor();
    await app(m, 'swapp', (req, res) => {
      res.setHeader('content-type', 'text/javascript');
      res.setHeader('service-worker-allowed', req.url === '/inner.js' ? '/swapp/inner/' : '/');
      res.setHeader('clear-site-data', '"cookies", "storage"');
      res.end('self.addEventListener("fetch", () => {});');
    });
    const wide = await raw(m.appsPort, { path: '/swapp/sw.js' });
    assert.equal(wide.headers['service-worker-allowed'], '/swapp/');
    assert.equal(wide.headers['clear-site-data'], undefined, 'it would clear the whole host');
    const inner = await raw(m.appsPort, { path: '/swapp/inner.js' });
    assert.equal(inner.headers['service-worker-allowed'], '/swapp/inner/');
  });

  test('regression: the apps origin serves neither the dashboard nor the API, whatever the credentials', async () => {
    const m = await monitor({
      extraApiRouters: [{ path: '/api/v0/mounts', router: mountsRouterStub() }],
    });
    m.api.put({ name: 'victim' });
    const cookie = await sessionCookie(m);
    const asAdmin = { cookie, origin: m.appsBase, 'content-type': 'application/json' };
    for (const [method, path] of [
      ['POST', '/api/workspaces/victim/stop'],
      ['POST', '/api/v0/mounts'],
      ['GET', '/api/workspaces'],
      ['GET', '/metrics'],
      ['GET', '/assets/dashboard.js'],
    ] as const) {
      const res = await fetch(`${m.appsBase}${path}`, {
        method,
        headers: { ...asAdmin, authorization: `Bearer ${TEST_TOKEN}` },
        ...(method === 'POST' ? { body: '{"bucket":"x"}' } : {}),
      });
      assert.equal(res.status, 404, `${method} ${path}`);
      await res.arrayBuffer();
    }
    assert.deepEqual(m.api.calls, [], 'nothing reached the supervisor');
    for (const path of ['/monitor', '/monitor/x?y=1', '/login']) {
      const res = await fetch(`${m.appsBase}${path}`, { headers: { cookie }, redirect: 'manual' });
      assert.equal(res.status, 302, path);
      assert.equal(res.headers.get('location'), `${m.base}${path}`, path);
      assert.equal(await res.text(), '', 'redirected, never served');
    }
  });
  test('an app unaware of its prefix still redirects and sets cookies under it', async () => {
    const m = await monitor();
    let upstreamHost = '';
    const u = await app(m, 'shop', (req, res) => {
      if (req.url === '/absolute') {
        res.writeHead(302, { location: `http://${upstreamHost}/done?x=1` }).end();
      } else if (req.url === '/aware') {
        res.writeHead(303, { location: `${String(req.headers['x-forwarded-prefix'])}/done` }).end();
      } else {
        res.writeHead(302, { location: '/login', 'set-cookie': 'sid=1; Path=/; HttpOnly' }).end();
      }
    });
    upstreamHost = `127.0.0.1:${u.port}`;
    const plain = await fetch(`${m.appsBase}/shop/cart`, { redirect: 'manual' });
    assert.equal(plain.headers.get('location'), '/shop/login');
    assert.equal(plain.headers.get('set-cookie'), 'sid=1; Path=/shop; HttpOnly');
    const absolute = await fetch(`${m.appsBase}/shop/absolute`, { redirect: 'manual' });
    assert.equal(absolute.headers.get('location'), '/shop/done?x=1');
    const aware = await fetch(`${m.appsBase}/shop/aware`, { redirect: 'manual' });
    assert.equal(aware.headers.get('location'), '/shop/done', 'not prefixed twice');
  });

  test('/<workspace> redirects to /<workspace>/ keeping the query; / goes to the dashboard’s origin', async () => {
    const m = await monitor();
    const u = await app(m, 'shop', echo);
    const res = await fetch(`${m.appsBase}/shop?a=1`, { redirect: 'manual' });
    assert.equal(res.status, 307);
    assert.equal(res.headers.get('location'), '/shop/?a=1');
    const root = await fetch(`${m.appsBase}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), `${m.base}/monitor`, 'on the admin origin');
    assert.equal(u.seen.length, 0);
  });

  test('encoded workspace names reach their app', async () => {
    const m = await monitor();
    await app(m, 'my app', echo);
    const res = await fetch(`${m.appsBase}/my%20app/x%2Fy?z=1`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { url: string }).url, '/x%2Fy?z=1');
  });

  test(
    'responses stream through unbuffered (chunked and server-sent events)',
    { timeout: 30_000 },
    async () => {
      const m = await monitor();
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      await app(m, 'stream', async (req, res) => {
        const isSse = req.url?.startsWith('/events') === true;
        res.writeHead(200, { 'content-type': isSse ? 'text/event-stream' : 'text/plain' });
        res.write(isSse ? 'data: first\n\n' : 'first chunk\n');
        // The second part is only sent once the client has seen the first: a proxy that
        // buffers the response would never deliver it, and this test would time out.
        await released;
        res.end(isSse ? 'data: second\n\n' : 'second chunk\n');
      });

      const res = await fetch(`${m.appsBase}/stream/chunked`);
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = '';
      while (!text.includes('first chunk\n')) text += (await reader.read()).value ?? '';
      assert.equal(text, 'first chunk\n');
      release();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      assert.equal(text, 'first chunk\nsecond chunk\n');

      let releaseSse!: () => void;
      const sseReleased = new Promise<void>((r) => (releaseSse = r));
      m.api.put({ name: 'sse' });
      const u2 = await upstream(async (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('event: tick\ndata: 1\n\n');
        await sseReleased;
        res.end('event: tick\ndata: 2\n\n');
      });
      m.api.setTarget('sse', u2.target);
      const s = await openSse(`${m.appsBase}/sse/events`);
      await s.next((e) => e.event === 'tick' && e.data === '1');
      releaseSse();
      await s.next((e) => e.event === 'tick' && e.data === '2');
      await s.ended;
    },
  );

  test('client connections stay alive across proxied responses', async () => {
    const m = await monitor();
    await app(m, 'shop', echo);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => agent.destroy());
    const sockets = new Set<unknown>();
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port: m.appsPort, path: '/shop/', agent },
          (res) => {
            sockets.add(res.socket);
            assert.notEqual(res.headers.connection, 'close');
            res.resume();
            res.on('end', resolve);
          },
        );
        req.on('error', reject);
        req.end();
      });
    }
    assert.equal(sockets.size, 1, 'one connection served all three requests');
  });

  test('websockets are proxied with the prefix stripped and the forwarding headers set', async () => {
    const m = await monitor();
    const u = await app(m, 'chat', echo);
    const c = connectWs(`ws://127.0.0.1:${m.appsPort}/chat/socket?room=1`);
    await c.opened;
    assert.equal(await c.next(), 'hello /socket?room=1');
    c.ws.send('hi there');
    assert.equal(await c.next(), 'echo: hi there');
    c.ws.send('x'.repeat(70_000));
    assert.equal(await c.next(), `echo: ${'x'.repeat(70_000)}`);
    assert.equal(u.upgrades[0]!.headers['x-forwarded-prefix'], '/chat');
    assert.equal(u.upgrades[0]!.headers['x-forwarded-proto'], 'http');
    c.ws.close();
    await c.closed;
    const metrics = await (await fetch(`${m.base}/metrics`, { headers: m.auth() })).text();
    assert.match(metrics, /^bucketspace_proxy_requests_total\{workspace="chat",status="101"\} 1$/m);
  });

  test('a websocket client that vanishes mid-stream does not disturb the monitor', async () => {
    const m = await monitor();
    const u = await app(m, 'chat', echo);
    for (let i = 0; i < 3; i++) {
      const socket = connect(m.appsPort, '127.0.0.1');
      await once(socket, 'connect');
      socket.write(
        'GET /chat/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      let got = '';
      while (!got.includes('hello /ws'))
        got += String(((await once(socket, 'data')) as [Buffer])[0]);
      assert.match(got, /^HTTP\/1\.1 101 /);
      socket.resetAndDestroy();
    }
    while (u.openSockets() > 0) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await fetch(`${m.appsBase}/healthz`)).status, 200);
    const c = connectWs(`ws://127.0.0.1:${m.appsPort}/chat/ws`);
    await c.opened;
    assert.equal(await c.next(), 'hello /ws');
    c.ws.close();
  });

  test('websocket upgrades to unknown, not-ready or reserved targets are refused', async () => {
    const m = await monitor();
    const u = await app(m, 'chat', echo);
    m.api.setState('chat', 'starting');
    for (const path of ['/chat/socket', '/nope/socket', '/api/events', '/monitor']) {
      const c = connectWs(`ws://127.0.0.1:${m.appsPort}${path}`);
      await assert.rejects(c.opened, path);
    }
    assert.equal(u.upgrades.length, 0);
  });
});

describe('when the app cannot answer', () => {
  test('unknown workspace: 404 page that lists nothing', async () => {
    const m = await monitor();
    m.api.put({ name: 'secret-project' });
    const res = await fetch(`${m.appsBase}/nope/`);
    assert.equal(res.status, 404);
    const html = await res.text();
    assert.match(html, /There is no workspace named &quot;nope&quot;/);
    assert.ok(!html.includes('secret-project'));
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  });

  test('not ready: 503 page with the state and why; it reloads while starting', async () => {
    const m = await monitor();
    await app(m, 'shop', echo);
    m.api.setState('shop', 'starting', 'waiting for port 3000 <script>alert(1)</script>');
    const res = await fetch(`${m.appsBase}/shop/`);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '3');
    const html = await res.text();
    assert.match(html, /shop is not ready/);
    assert.match(html, /State: starting\./);
    assert.match(html, /waiting for port 3000 &lt;script&gt;/);
    assert.ok(!html.includes('<script>'));
    assert.match(html, /http-equiv="refresh"/);

    m.api.put({ name: 'shop', state: 'crashing', message: 'exited with code 1' });
    const crashed = await fetch(`${m.appsBase}/shop/`, { headers: { accept: 'application/json' } });
    assert.equal(crashed.status, 503);
    assert.equal(crashed.headers.get('retry-after'), null);
    assert.deepEqual(await crashed.json(), {
      error: {
        code: 'NOT_READY',
        message: 'shop is crashing: exited with code 1',
        state: 'crashing',
      },
    });
  });

  test('the app refuses connections: 502 page saying why', async () => {
    const m = await monitor();
    const u = await startUpstream(echo);
    await u.close();
    m.api.put({ name: 'shop' });
    m.api.setTarget('shop', u.target);
    const res = await fetch(`${m.appsBase}/shop/`);
    assert.equal(res.status, 502);
    const html = await res.text();
    assert.match(html, /did not answer \(ECONNREFUSED\)/);
    assert.ok(!html.includes(`:${u.port}`), 'the container address is not shown');
  });

  test('a POST the app drops is answered 502 and never retried', async () => {
    const m = await monitor();
    const u = await app(m, 'shop', (req) => {
      req.socket.destroy();
    });
    const res = await fetch(`${m.appsBase}/shop/orders`, { method: 'POST', body: 'buy one' });
    assert.equal(res.status, 502);
    await res.text();
    assert.equal(u.seen.length, 1, 'the order reached the app exactly once');
  });

  test('reserved names are never proxied, even when a workspace has one', async () => {
    const m = await monitor();
    const u = await app(m, 'metrics', echo);
    await app(m, 'login', echo);
    assert.equal((await fetch(`${m.appsBase}/metrics/`)).status, 404);
    assert.equal((await fetch(`${m.appsBase}/%6detrics/`)).status, 404);
    assert.equal((await fetch(`${m.appsBase}/login`, { redirect: 'manual' })).status, 302);
    assert.equal(u.seen.length, 0);
  });
});

/** A clock whose timers fire only when the test says so. */
function manualClock() {
  const timers = new Map<number, () => void>();
  let next = 1;
  return {
    now: () => Date.now(),
    setTimeout(fn: () => void): unknown {
      timers.set(next, fn);
      return next++;
    },
    clearTimeout(handle: unknown): void {
      timers.delete(handle as number);
    },
    pending: () => timers.size,
    fireAll(): void {
      const due = [...timers.values()];
      timers.clear();
      for (const fn of due) fn();
    },
  };
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; !check(); i++) {
    if (i > 3000) throw new Error(`never: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('upstream timeout (MONITOR_PROXY_TIMEOUT)', () => {
  test('regression: an app that never answers gets a 504 page, and its connection is closed', async () => {
    const clock = manualClock();
    const m = await monitor({ clock, proxyTimeoutMs: 45_000 });
    let upstreamClosed: Promise<unknown> | undefined;
    await app(m, 'stuck', (req) => {
      upstreamClosed = once(req.socket, 'close');
    });
    const pending = fetch(`${m.appsBase}/stuck/`);
    await until(
      'the request is sent and the timer armed',
      () => clock.pending() > 0 && upstreamClosed !== undefined,
    );
    clock.fireAll();
    const res = await pending;
    assert.equal(res.status, 504);
    const html = await res.text();
    assert.match(html, /stuck did not answer in time/);
    assert.match(html, /within 45 s \(MONITOR_PROXY_TIMEOUT\)/);
    assert.match(html, new RegExp(`href="${m.base}/monitor"`), 'links to the dashboard');
    await upstreamClosed;

    const json = fetch(`${m.appsBase}/stuck/api`, { headers: { accept: 'application/json' } });
    await until('the second request is sent', () => clock.pending() > 0);
    clock.fireAll();
    assert.deepEqual(await (await json).json(), {
      error: { code: 'UPSTREAM_TIMEOUT', message: 'the app of stuck did not answer within 45 s' },
    });
    const metrics = await (await fetch(`${m.base}/metrics`, { headers: m.auth() })).text();
    assert.match(
      metrics,
      /^bucketspace_proxy_requests_total\{workspace="stuck",status="504"\} 2$/m,
    );
  });

  test('a response the app has started is never cut by the timeout', async () => {
    const clock = manualClock();
    const m = await monitor({ clock, proxyTimeoutMs: 1000 });
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    await app(m, 'slow', async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first\n');
      await released;
      res.end('second\n');
    });
    const res = await fetch(`${m.appsBase}/slow/`);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = (await reader.read()).value ?? '';
    assert.equal(clock.pending(), 0, 'no timer runs once the answer has started');
    clock.fireAll();
    release();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    assert.equal(text, 'first\nsecond\n');
  });
});

describe('subdomains with DOMAIN', () => {
  test('<workspace>.<DOMAIN> reaches the app with its whole path; nested ones do not', async () => {
    const m = await monitor({ domain: 'apps.test' });
    const u = await app(m, 'shop', echo);
    await app(m, 'MixedCase', echo);
    const res = await raw(m.appsPort, {
      path: '/monitor?x=1',
      headers: { host: `Shop.Apps.Test:${m.appsPort}` },
    });
    assert.equal(res.status, 200);
    assert.equal(urlOf(res.body), '/monitor?x=1');
    assert.equal(u.seen[0]!.headers['x-forwarded-prefix'], undefined);
    assert.equal(u.seen[0]!.headers['x-forwarded-host'], `Shop.Apps.Test:${m.appsPort}`);

    const mixed = await raw(m.appsPort, { path: '/', headers: { host: 'mixedcase.apps.test' } });
    assert.equal(mixed.status, 200, 'a workspace name in any case is found from its DNS label');

    const nested = await raw(m.appsPort, { path: '/', headers: { host: 'a.shop.apps.test' } });
    assert.equal(nested.status, 404);
    const missing = await raw(m.appsPort, { path: '/', headers: { host: 'nope.apps.test' } });
    assert.equal(missing.status, 404);
    assert.match(
      missing.body,
      /href="http:\/\/monitor\.apps\.test\/monitor"/,
      'links to the dashboard on the admin host',
    );
    const adminHost = await raw(m.appsPort, {
      path: '/monitor',
      headers: { host: 'monitor.apps.test' },
    });
    assert.equal(adminHost.status, 404, 'the admin host is never served by the apps port');
    assert.match(adminHost.body, /MONITOR_ADMIN_PORT/);

    const main = await raw(m.appsPort, { path: '/shop/x', headers: { host: 'apps.test' } });
    assert.equal(urlOf(main.body), '/x', 'the domain itself routes by path');
  });
});

describe('close()', () => {
  test('ends event streams, log follows, websockets and idle keep-alive connections at once', async () => {
    // A long grace: if close() waited on any of these, the test would time out.
    const m = await startMonitor({ shutdownGraceMs: 10 * 60_000 });
    let closed = false;
    cleanups.push(async () => {
      if (!closed) await m.close();
    });
    const u = await app(m, 'chat', echo);
    m.api.log('chat', 'a line');

    const events = await openSse(`${m.base}/api/events`, m.auth());
    await events.next((e) => e.event === 'snapshot');
    const logs = await openSse(`${m.base}/api/workspaces/chat/logs?follow=1`, m.auth());
    await logs.next((e) => e.event === 'line');
    const ws = connectWs(`ws://127.0.0.1:${m.appsPort}/chat/ws`);
    await ws.opened;
    await ws.next();
    const agent = new Agent({ keepAlive: true });
    cleanups.push(() => agent.destroy());
    await new Promise<void>((resolve) => {
      httpRequest({ host: '127.0.0.1', port: m.appsPort, path: '/healthz', agent }, (res) => {
        res.resume();
        res.on('end', resolve);
      }).end();
    });

    await m.close();
    closed = true;
    await events.ended;
    await logs.ended;
    await ws.closed;
    while (u.openSockets() > 0) await new Promise((r) => setTimeout(r, 10));
    assert.equal(m.api.subscriberCount, 0);
    assert.equal(m.api.followerCount('chat'), 0);
    assert.deepEqual(m.http.addresses(), { apps: undefined, admin: undefined });
  });

  test('cuts proxied requests still running after the grace period', async () => {
    const m = await startMonitor({ shutdownGraceMs: 50 });
    await app(m, 'slow', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('never ends\n');
    });
    const res = await fetch(`${m.appsBase}/slow/`);
    const reader = res.body!.getReader();
    await reader.read();
    await m.close();
    await assert.rejects(async () => {
      for (;;) if ((await reader.read()).done) throw new Error('ended cleanly');
    }, /terminated|other side closed/);
  });
});
