// Issue 12 §4, "no disk limit": an app wrote 1 GiB into /tmp, on the host's
// root filesystem. The real monitor and engine with a small budget
// (decision 0056): /tmp is a tmpfs of RUNTIME_TMP_SIZE, and an app whose
// writes (its writable layer and its dependency cache) pass RUNTIME_DISK is
// stopped and says why; one within its budget keeps running.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeDepsApp } from './support/deps-app.ts';
import { containersOf, volumesOf } from './support/docker.ts';
import { ensureImages } from './support/images.ts';
import { writeNodeServer } from './support/node-app.ts';
import { TestMonitor } from './support/test-monitor.ts';
import { eventually } from './support/watch-process.ts';

/** Answers `/write?dir=&mb=` by writing that many MiB into a new file there: `ok`, or the error code. */
const FILLER = `
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
let n = 0;
http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  if (u.pathname !== '/write') return res.end(process.env.BUCKETSPACE_WORKSPACE);
  try {
    const dir = u.searchParams.get('dir');
    fs.mkdirSync(dir, { recursive: true });
    const fd = fs.openSync(path.join(dir, 'junk-' + (n += 1)), 'w');
    const chunk = Buffer.alloc(1024 * 1024, 7);
    for (let i = 0; i < Number(u.searchParams.get('mb')); i += 1) fs.writeSync(fd, chunk);
    fs.closeSync(fd);
    res.end('ok');
  } catch (err) {
    res.end(err.code || err.message);
  }
}).listen(Number(process.env.PORT));
process.on('SIGTERM', () => process.exit(0));
`;

describe('a disk budget per app', { timeout: 600_000 }, () => {
  const m = new TestMonitor(() => ({
    RUNTIME_DISK: '64m',
    RUNTIME_TMP_SIZE: '16m',
    MONITOR_DISK_CHECK_INTERVAL: '300ms',
  }));

  /** What the app answers to a write of `mb` MiB into `dir`. */
  const write = async (app: string, dir: string, mb: number): Promise<string> => {
    const res = await fetch(`${m.base}/${app}/write?dir=${encodeURIComponent(dir)}&mb=${mb}`);
    return `${res.status} ${await res.text()}`;
  };
  const containerIdOf = async (workspace: string) =>
    (await containersOf(m.managedBy)).find((c) => c.Labels['bucketspace.workspace'] === workspace)
      ?.Id;
  const checks = () => m.lines().filter((l) => l.msg === 'disk use checked').length;

  before(async () => {
    await ensureImages(['runtime-node']);
    await m.init();
    for (const name of ['filler', 'steady'])
      await writeNodeServer(path.join(m.workspaces, name), FILLER);
    await writeDepsApp(path.join(m.workspaces, 'cached'), { greeting: 'hi', message: 'x' });
    await writeFile(
      path.join(m.workspaces, 'cached', 'server.js'),
      `require('greeting');\n${FILLER}`,
    );
    await m.start();
    await eventually(
      'the three apps answer',
      async () =>
        (await m.appText('filler')) === '200 filler' &&
        (await m.appText('steady')) === '200 steady' &&
        (await m.appText('cached')) === '200 cached',
      180_000,
    );
  });

  after(() => m.close());

  test('the monitor found out how the budget can be enforced here, and says so', () => {
    const said = m
      .lines()
      .find(
        (l) =>
          typeof l.msg === 'string' &&
          l.msg.startsWith('disk budget: the storage driver ') &&
          l.budgetBytes === 64 * 1024 ** 2,
      );
    assert.ok(said !== undefined, 'a log line on the storage driver');
    if (String(said.msg).includes('cannot limit')) assert.match(String(said.why), /\S/);
  });

  test('no disk limit: a write past /tmp fails with ENOSPC (a tmpfs of RUNTIME_TMP_SIZE), not on the host disk', async () => {
    assert.equal(await write('steady', '/tmp/scratch', 4), '200 ok');
    assert.equal(await write('steady', '/tmp/scratch', 32), '200 ENOSPC');
    assert.equal((await m.view('steady')).state, 'running');
  });

  test('no disk limit: an app that writes past its budget is stopped, and the dashboard and API say why', async () => {
    const before = await containerIdOf('filler');
    let message = '';
    await m.dashboard(async (page) => {
      await page.locator('tr.ws[data-name="filler"]', { hasText: 'running' }).waitFor();
      // The API's view the moment it says crashing, asked while the dashboard watches.
      const stopped = eventually(
        'the API says filler is stopped',
        async () => {
          const view = await m.view('filler');
          message = String(view.message);
          return view.state === 'crashing';
        },
        60_000,
      );
      // The app may be stopped before it answers.
      await write('filler', '/app/data', 100).catch(() => 'cut short');
      await page
        .locator('tr.ws[data-name="filler"]', { hasText: 'disk budget (RUNTIME_DISK)' })
        .waitFor({ timeout: 60_000 });
      await stopped;
    });
    // Measured once it passed 64 MiB: at the end of the write or during it.
    const said =
      /^stopped: it used (\d+\.\d) MiB of its 64\.0 MiB disk budget \(RUNTIME_DISK\): \1 MiB written in its container; restarting in \d+ s$/.exec(
        message,
      );
    assert.ok(said !== null, message);
    assert.ok(Number(said[1]) > 64, said[0]);
    assert.ok(
      m.lines().some((l) => l.msg === 'container over its disk budget; stopping it'),
      'logged',
    );
    // It starts again from a fresh copy, within its budget.
    await eventually(
      'filler answers again',
      async () => (await m.appText('filler')) === '200 filler',
      120_000,
    );
    assert.notEqual(await containerIdOf('filler'), before);
    assert.equal((await m.view('filler')).state, 'running');
  });

  test('no disk limit: what an app writes into its dependency cache counts, and the cache is dropped', async () => {
    const caches = async () =>
      (await volumesOf(m.managedBy)).filter((v) => v.Labels['bucketspace.workspace'] === 'cached')
        .length;
    assert.equal(await caches(), 1);
    await write('cached', '/app/node_modules/junk', 80).catch(() => 'cut short');
    await eventually(
      'cached is stopped for its disk use',
      async () => (await m.view('cached')).state === 'crashing',
      60_000,
    );
    assert.match(
      String((await m.view('cached')).message),
      /^stopped: it used \d+\.\d MiB of its 64\.0 MiB disk budget \(RUNTIME_DISK\): \d+\.\d (KiB|MiB) written in its container, \d+\.\d MiB in its dependency cache; restarting in \d+ s$/,
    );
    await eventually(
      'cached answers again, with its dependencies installed afresh',
      async () =>
        (await m.appText('cached')) === '200 cached' && (await m.view('cached')).deploy !== null,
      180_000,
    );
    // Reused, the cache would have said `reused` (and kept the junk).
    const deploy = (await m.view('cached')).deploy as { dependencies: string };
    assert.equal(deploy.dependencies, 'installed');
    assert.equal(await caches(), 1);
  });

  test('an app within its budget keeps running, check after check', async () => {
    const id = await containerIdOf('steady');
    assert.equal(await write('steady', '/app/data', 8), '200 ok');
    const seen = checks();
    await eventually('three more disk checks', () => Promise.resolve(checks() >= seen + 3), 60_000);
    assert.equal(await containerIdOf('steady'), id);
    const view = await m.view('steady');
    assert.equal(view.state, 'running');
    assert.equal(view.message, null);
    assert.equal(view.restarts, 0);
  });
});
