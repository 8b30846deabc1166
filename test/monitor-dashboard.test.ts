// The dashboard in a real headless Chromium: log in, see changes live, click restart, screenshot.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { BucketspaceError } from '../services/common/errors.ts';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startMonitor, TEST_TOKEN, type MonitorFixture } from './support/monitor-fixture.ts';
import { startUpstream, type Upstream } from './support/upstream.ts';

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
    monitor = await startMonitor({ extraApiRouters: [{ path: '/api/v0/mounts', router: mounts }] });
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
    assert.equal(await row(page, 'shop').locator('td.url a').getAttribute('href'), '/shop/');
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

    assert.doesNotMatch(await page.locator('main').innerText(), /null|undefined|NaN/);
    // The toast of the refused start is seen above; keep it from covering the mounts in the picture.
    await page.evaluate("document.querySelectorAll('.toast').forEach((t) => t.remove())");
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'monitor-dashboard.png'), fullPage: true });

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
      assert.deepEqual(problems, []);
      await page.close();
    } finally {
      await m.close();
    }
  });
});
