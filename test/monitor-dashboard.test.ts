// The dashboard in a real headless Chromium: log in, see changes live, click restart, screenshot.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { BucketspaceError } from '../services/common/errors.ts';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { TrashListing } from '../services/monitor/discovery/trash-listing.ts';
import { trashRouter } from '../services/monitor/http/trash-router.ts';
import { startMonitor, TEST_TOKEN, type MonitorFixture } from './support/monitor-fixture.ts';
import { startUpstream, type Upstream, type UpstreamHandler } from './support/upstream.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));

let context: BrowserContext | undefined;
let profile: string | undefined;
let monitor: MonitorFixture | undefined;
let app: Upstream | undefined;

before(async () => {
  profile = await mkdtemp(join(tmpdir(), 'bucketspace-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1360, height: 720 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-quic',
      '--disable-sync',
    ],
  });
});

after(async () => {
  await context?.close();
  await monitor?.close();
  await app?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

/** A page that fails the test on any script error or CSP violation. */
async function newPage(): Promise<{ page: Page; problems: string[] }> {
  const page = await context!.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    // HTTP errors the test provokes (401 before login, 409, 404) are logged by Chromium as
    // "Failed to load resource"; anything else is a defect.
    if (msg.type() === 'error' && !/^Failed to load resource/.test(msg.text())) {
      problems.push(`console error: ${msg.text()}`);
    }
  });
  return { page, problems };
}

function row(page: Page, name: string) {
  return page.locator(`tr.ws[data-name="${name}"]`);
}

describe('dashboard', () => {
  test('log in, watch a workspace change state live, restart one, read its logs, save a screenshot', async () => {
    const mounts = express.Router();
    mounts.get('/', (_req, res) => {
      // The shape the mount manager's router answers with (services/mounts/types.ts MountRecord).
      res.json({
        mounts: [
          {
            id: 'workspaces',
            bucket: 'workspaces',
            state: 'running',
            healthy: true,
            mountPoint: '/mnt/buckets/workspaces',
            links: [{ root: '/srv', path: '/srv/workspaces' }],
            lastError: null,
            pid: 4242,
          },
        ],
      });
    });
    app = await startUpstream((_req, res) => {
      res.end('<h1>shop</h1>');
    });
    // The mount, as the sync leaves it: a deleted workspace and a deleted file in the trash.
    const mountRoot = await mkdtemp(join(tmpdir(), 'bucketspace-mount-'));
    const day = 86_400_000;
    const removedAt = new Date(Date.now() - 2 * 3_600_000);
    const fileAt = new Date(Date.now() - 3 * day);
    const entryOf = (d: Date) => d.toISOString().replace(/:/g, '-');
    for (const rel of [
      `.trash/old-shop/${entryOf(removedAt)}/index.js`,
      `.trash/blog/${entryOf(fileAt)}/drafts/post.md`,
      '.trash/blog/not-an-entry/x',
    ]) {
      await mkdir(join(mountRoot, rel, '..'), { recursive: true });
      await writeFile(join(mountRoot, rel), 'x');
    }
    monitor = await startMonitor({
      extraApiRouters: [
        { path: '/api/v0/mounts', router: mounts },
        {
          path: '/api/trash',
          router: trashRouter({
            listing: new TrashListing({ root: mountRoot }),
            workspaces: () => monitor?.api.list().map((w) => w.name) ?? [],
          }),
        },
      ],
    });
    const api = monitor.api;
    const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
    api.put({
      name: 'shop',
      type: 'node',
      reason: 'package.json with scripts.start',
      startedAt: ago(3 * 3_600_000 + 12 * 60_000),
      lastChangeAt: ago(4 * 60_000),
    });
    api.setTarget('shop', app.target);
    api.put({
      name: 'blog',
      type: 'static',
      state: 'starting',
      reason: 'index.html at the root',
      message: 'copying the source',
      startedAt: null,
      lastChangeAt: ago(20_000),
    });
    api.put({
      name: 'ml-api',
      type: 'python',
      state: 'crashing',
      reason: 'requirements.txt and app.py',
      message: 'exited with code 1 (restart 3 in 30 s)',
      restarts: 3,
      exitCode: 1,
      startedAt: null,
      lastChangeAt: ago(2 * 86_400_000),
      lastLogLines: ['Traceback (most recent call last):', 'ModuleNotFoundError: flask'],
    });
    api.put({
      name: 'notes',
      type: null,
      state: 'unrecognized',
      reason:
        'no workspace.json, package.json, requirements.txt, app.py, go.mod, main.go or index.html',
      startedAt: null,
      lastChangeAt: ago(9 * 86_400_000),
    });
    api.put({
      name: 'tools',
      type: 'go',
      state: 'stopped',
      reason: 'go.mod',
      message: 'stopped from the dashboard',
      startedAt: null,
      lastChangeAt: ago(3 * 3_600_000),
    });
    api.log('shop', 'npm ci: added 112 packages in 4s', '> shop@1.0.0 start', 'listening on :3000');

    const { page, problems } = await newPage();

    // Not logged in: the login form, not the dashboard.
    const first = await page.goto(`${monitor.base}/monitor`);
    assert.equal(first?.status(), 401);
    await page.getByLabel('Token').fill('wrong-token');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('Wrong token').waitFor();
    await page.getByLabel('Token').fill(TEST_TOKEN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${monitor.base}/monitor`);

    // The snapshot arrives over SSE.
    await page.locator('#connection[data-state="live"]').waitFor();
    await row(page, 'shop').locator('.badge', { hasText: 'running' }).waitFor();
    const order: (string | null)[] = [];
    for (const r of await page.locator('tr.ws').all())
      order.push(await r.getAttribute('data-name'));
    assert.deepEqual(order, ['blog', 'ml-api', 'notes', 'shop', 'tools'], 'sorted by name');
    assert.equal(await row(page, 'shop').locator('td.type').innerText(), 'node');
    assert.equal(
      await row(page, 'shop').locator('td.url a').getAttribute('href'),
      `${monitor.appsBase}/shop/`,
      'the app is linked on the apps origin, never the dashboard’s',
    );
    assert.match(await row(page, 'shop').locator('td.uptime').innerText(), /^3h 1[23]m$/);
    assert.match(await row(page, 'shop').locator('td.change').innerText(), /^4 min ago$/);
    assert.equal(
      await row(page, 'blog').locator('td.state').innerText(),
      'starting\ncopying the source',
    );
    assert.equal(
      await row(page, 'ml-api').locator('td.state').innerText(),
      'crashing↻3\nexited with code 1 (restart 3 in 30 s)',
    );
    assert.doesNotMatch(await page.locator('#workspaces').innerText(), /null|undefined|NaN/);
    assert.equal(await row(page, 'notes').locator('button.action-start').isDisabled(), true);
    assert.equal(await row(page, 'tools').locator('button.action-stop').isDisabled(), true);
    // The trash, newest first, with the command that restores each entry.
    await page.locator('#trash:not([hidden])').waitFor();
    const trashRows = page.locator('#trash tr.trash-entry');
    assert.equal(await trashRows.count(), 2, 'the stray directory is no entry');
    assert.match(
      await trashRows.nth(0).innerText(),
      new RegExp(
        `^old-shop\\s+workspace deleted\\s+2 h ago\\s+${entryOf(removedAt).replace(/\./g, '\\.')}\\s+bucketspace sync restore old-shop --at ${entryOf(removedAt).replace(/\./g, '\\.')}$`,
      ),
    );
    assert.match(
      await trashRows.nth(1).innerText(),
      /^blog\s+files deleted\s+3 d ago\s+/,
      'blog is still a workspace: files were deleted from it',
    );
    await page.locator('#mounts:not([hidden])').waitFor();
    assert.match(
      await page.locator('#mounts tbody').innerText(),
      /workspaces\s+running\s+\/mnt\/buckets\/workspaces\s+\/srv\/workspaces/,
    );

    // A change pushed by the supervisor appears without a reload.
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));
    api.put({ name: 'blog', state: 'running', message: null, startedAt: new Date().toISOString() });
    await row(page, 'blog').locator('.badge', { hasText: 'running' }).waitFor();
    assert.equal(
      await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker),
      42,
      'same page: no reload',
    );
    api.put({ name: 'gallery', type: 'static', reason: 'public/index.html', state: 'pending' });
    await row(page, 'gallery').waitFor();
    api.delete('gallery');
    await row(page, 'gallery').waitFor({ state: 'detached' });

    // Restart from the dashboard reaches the API; the new state comes back live.
    await row(page, 'shop').getByRole('button', { name: 'Restart shop', exact: true }).click();
    await row(page, 'shop').locator('.badge', { hasText: 'starting' }).waitFor();
    assert.deepEqual(api.callsOf('restart'), [['shop']]);
    api.put({ name: 'shop', state: 'running', startedAt: new Date().toISOString() });
    await row(page, 'shop').locator('.badge', { hasText: 'running' }).waitFor();

    // A refused action is explained.
    api.failNext.set(
      'tools',
      new BucketspaceError(
        'CONFLICT',
        'workspace.json of tools is invalid: "port" must be a number',
      ),
    );
    await row(page, 'tools').getByRole('button', { name: 'Start tools', exact: true }).click();
    await page
      .locator('.toast', { hasText: 'start tools: workspace.json of tools is invalid' })
      .waitFor();
    assert.deepEqual(api.callsOf('start'), [['tools']]);

    // Logs: the tail, then live lines.
    await row(page, 'shop').getByRole('button', { name: 'Show logs of shop' }).click();
    const log = page.locator('tr.detail:not([hidden]) pre.log');
    await log.getByText('listening on :3000').waitFor();
    while (api.followerCount('shop') === 0) await new Promise((r) => setTimeout(r, 20));
    api.log('shop', 'GET / 200 3ms');
    await log.getByText('GET / 200 3ms').waitFor();

    // Docker and mount status come as banners.
    api.setStatus({
      mount: 'unavailable',
      mountReason: 'ENOTCONN: the FUSE mount at /workspaces is gone.',
    });
    await page.locator('.banner[data-kind="mount"]').waitFor();
    assert.match(await page.locator('#banners').innerText(), /workspaces mount is unavailable/);
    // So does an apps firewall that is not in place.
    api.setStatus({
      isolation: 'failed',
      isolationReason: 'the firewall image bucketspace/apps-firewall:latest is missing',
    });
    await page.locator('.banner[data-kind="isolation"]').waitFor();
    assert.match(
      await page.locator('.banner[data-kind="isolation"]').innerText(),
      /Apps are not started: the apps firewall is not in place\. the firewall image bucketspace\/apps-firewall:latest is missing/,
    );

    assert.doesNotMatch(await page.locator('main').innerText(), /null|undefined|NaN/);
    // The toast of the refused start is seen above; keep it from covering the mounts in the picture.
    await page.evaluate("document.querySelectorAll('.toast').forEach((t) => t.remove())");
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'monitor-dashboard.png'), fullPage: true });
    await rm(mountRoot, { recursive: true, force: true });

    // Logging out ends the session.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(`${monitor.base}/login`);
    const again = await page.goto(`${monitor.base}/monitor`);
    assert.equal(again?.status(), 401);

    assert.deepEqual(problems, []);
    await page.close();
  });

  test('the Mounts section stays hidden without the mount manager', async () => {
    const m = await startMonitor();
    // Cookies belong to the host, not the port: start without the first test's session.
    await context!.clearCookies();
    try {
      const { page, problems } = await newPage();
      await page.goto(`${m.base}/login`);
      await page.getByLabel('Token').fill(TEST_TOKEN);
      const mountsAsked = page.waitForResponse((r) => r.url().endsWith('/api/v0/mounts'));
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.locator('#connection[data-state="live"]').waitFor();
      await page.locator('#empty:not([hidden])').waitFor();
      // The dashboard asked for the mounts, got a 404, and kept the section hidden.
      assert.equal((await mountsAsked).status(), 404);
      assert.equal(await page.locator('#mounts').isHidden(), true);
      assert.equal(await page.locator('#trash').isHidden(), true, 'no trash: no section');
      assert.deepEqual(problems, []);
      await page.close();
    } finally {
      await m.close();
    }
  });
});

/** An app serving `pages` (path -> [content type, body, extra headers]). */
function pagesApp(
  pages: Record<string, [string, string, Record<string, string>?]>,
): UpstreamHandler {
  return (req, res) => {
    const page = pages[(req.url ?? '/').split('?', 1)[0] ?? '/'];
    if (!page) {
      res.writeHead(404).end('no such page');
      return;
    }
    res.writeHead(200, { 'content-type': page[0], ...(page[2] ?? {}) });
    res.end(page[1]);
  };
}

describe('an app’s page cannot act as the logged-in admin', () => {
  test('regression: fetch("/api/workspaces/victim/stop") and POST /api/v0/mounts from an app page fail, also aimed at the admin origin', async () => {
    const mountCalls: string[] = [];
    const mounts = express.Router();
    mounts.use((req, res) => {
      mountCalls.push(`${req.method} ${req.path}`);
      res.status(201).json({ mounts: [] });
    });
    const m = await startMonitor({ extraApiRouters: [{ path: '/api/v0/mounts', router: mounts }] });
    const evil = await startUpstream(
      pagesApp({
        '/': [
          'text/html',
          `<!doctype html><title>evil</title><script>
          const admin = ${JSON.stringify(m.base)};
          const attempt = async (url, init) => {
            try { return String((await fetch(url, init)).status); } catch (e) { return 'blocked'; }
          };
          (async () => {
            const results = {
              stop: await attempt('/api/workspaces/victim/stop', { method: 'POST' }),
              mount: await attempt('/api/v0/mounts', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"bucket":"stolen"}' }),
              adminStop: await attempt(admin + '/api/workspaces/victim/stop', { method: 'POST', mode: 'no-cors', credentials: 'include' }),
              adminMount: await attempt(admin + '/api/v0/mounts', { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: '{"bucket":"stolen"}' }),
              adminRead: await attempt(admin + '/api/workspaces', { credentials: 'include' }),
            };
            document.body.dataset.results = JSON.stringify(results);
          })();
          </script>`,
        ],
      }),
    );
    try {
      m.api.put({ name: 'victim' });
      m.api.put({ name: 'evil' });
      m.api.setTarget('evil', evil.target);
      await context!.clearCookies();
      const { page, problems } = await newPage();
      await page.goto(`${m.base}/login`);
      await page.getByLabel('Token').fill(TEST_TOKEN);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.locator('#connection[data-state="live"]').waitFor();

      // The logged-in admin opens the app's page, in the same browser (its refused requests
      // are console errors of that page, which is why it is not watched like the dashboard).
      const appPage = await context!.newPage();
      await appPage.goto(`${m.appsBase}/evil/`);
      await appPage.locator('body[data-results]').waitFor({ state: 'attached' });
      const results = JSON.parse(
        (await appPage.locator('body').getAttribute('data-results')) ?? '{}',
      ) as Record<string, string>;
      await appPage.close();
      assert.equal(results.stop, '404', 'no API on the apps origin');
      assert.equal(results.mount, '404', 'no mount API on the apps origin');
      // no-cors hides the status from the page; the monitor's own record below shows the refusal.
      assert.equal(results.adminRead, 'blocked', 'the admin origin sends no CORS headers');
      assert.deepEqual(m.api.callsOf('stop'), [], 'victim was not stopped');
      assert.deepEqual(
        mountCalls.filter((c) => !c.startsWith('GET')),
        [],
        'no mount was created (the dashboard itself lists them)',
      );

      // The dashboard still works for the admin: the session was never touched.
      await page.goto(`${m.base}/monitor`);
      await row(page, 'victim').waitFor();
      await row(page, 'victim').getByRole('button', { name: 'Stop victim', exact: true }).click();
      await row(page, 'victim').locator('.badge', { hasText: 'stopped' }).waitFor();
      assert.deepEqual(m.api.callsOf('stop'), [['victim']]);
      assert.deepEqual(problems, []);
      await page.close();
    } finally {
      await m.close();
      await evil.close();
    }
  });

  test('regression: an app’s service worker with Service-Worker-Allowed: / cannot take over /login', async () => {
    const m = await startMonitor();
    const registerPage = (scope: string) => `<!doctype html><title>swapp</title><script>
      navigator.serviceWorker.register('/swapp/sw.js', { scope: ${JSON.stringify(scope)} })
        .then((r) => r.scope, (e) => 'refused: ' + e.name)
        .then((outcome) => { document.body.dataset.outcome = outcome; });
      </script>`;
    const swapp = await startUpstream(
      pagesApp({
        '/': ['text/html', registerPage('/')],
        '/inside': ['text/html', registerPage('/swapp/')],
        '/sw.js': [
          'text/javascript',
          `self.addEventListener('install', () => self.skipWaiting());
           self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));
           self.addEventListener('fetch', (e) => {
             if (new URL(e.request.url).pathname.endsWith('/login')) {
               e.respondWith(new Response('<form><label for=t>Token</label><input id=t name=token></form>HIJACKED', { headers: { 'content-type': 'text/html' } }));
             }
           });`,
          { 'service-worker-allowed': '/' },
        ],
      }),
    );
    try {
      m.api.put({ name: 'swapp' });
      m.api.setTarget('swapp', swapp.target);
      await context!.clearCookies();
      // The refused registration is a console error of the app's page: not watched.
      const page = await context!.newPage();

      await page.goto(`${m.appsBase}/swapp/`);
      await page.locator('body[data-outcome]').waitFor({ state: 'attached' });
      assert.equal(
        await page.locator('body').getAttribute('data-outcome'),
        'refused: SecurityError',
        'a scope of / is refused: the monitor narrowed Service-Worker-Allowed to /swapp/',
      );
      // The same worker within its own prefix registers: the browser does run service workers here.
      await page.goto(`${m.appsBase}/swapp/inside`);
      await page.locator('body[data-outcome]').waitFor({ state: 'attached' });
      assert.equal(await page.locator('body').getAttribute('data-outcome'), `${m.appsBase}/swapp/`);

      // /login, on the apps origin and on the admin origin, is the monitor's own page.
      for (const url of [`${m.appsBase}/login`, `${m.base}/login`]) {
        const res = await page.goto(url);
        assert.equal(page.url(), `${m.base}/login`, url);
        assert.equal(res?.status(), 200, url);
        const html = await page.content();
        assert.ok(!html.includes('HIJACKED'), `${url} was answered by the app's worker`);
        assert.match(html, /<form method="post" action="\/login">/);
        assert.equal(
          await page.evaluate('navigator.serviceWorker.controller === null'),
          true,
          `${url} is controlled by no service worker`,
        );
      }
      await page.close();
    } finally {
      await m.close();
      await swapp.close();
    }
  });
});
