import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import {
  startJsonHookServer,
  type HookHandler,
  type JsonHookServer,
} from '../../test/support/json-hook-server.ts';
import { MountRcClient, mountRcPassword, refreshCalls } from './mount-rc-client.ts';

const RC_PASSWORD_SH = fileURLToPath(
  new URL('../../images/mount-rclone/rc-password.sh', import.meta.url),
);

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

/** The stand-in receiver, closed after each test. */
async function fakeRc(handler: HookHandler): Promise<JsonHookServer> {
  const server = await startJsonHookServer(handler);
  closers.push(() => server.close());
  return server;
}

function capture() {
  const lines: { level: number; msg: string; reason?: string; component?: string }[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (s: string) => lines.push(JSON.parse(s) as { level: number; msg: string }) },
  );
  return { logger, lines, warns: () => lines.filter((l) => l.level === 40) };
}

describe('MountRcClient', () => {
  test('POSTs vfs/refresh of the top level, then of each changed tree, with basic auth', async () => {
    const rc = await fakeRc((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"result":{}}');
    });
    const log = capture();
    const client = new MountRcClient({
      url: rc.url,
      user: 'bucketspace',
      password: 'pw-123',
      logger: log.logger,
    });
    await client.notifyChanged(['shop', 'blog']);
    const authorization = `Basic ${Buffer.from('bucketspace:pw-123').toString('base64')}`;
    assert.deepEqual(rc.received, [
      { url: '/vfs/refresh', authorization, body: {} },
      {
        url: '/vfs/refresh',
        authorization,
        body: { dir: 'blog', dir2: 'shop', dir3: '.trash', recursive: 'true' },
      },
    ]);
    assert.deepEqual(log.warns(), []);
    assert.ok(!JSON.stringify(log.lines).includes('pw-123'), 'the password is never logged');
  });

  test('a refused password is warned about once, naming the settings', async () => {
    const rc = await fakeRc((_req, res) => {
      res.writeHead(401).end('{"error":"unauthorized"}');
    });
    const log = capture();
    const client = new MountRcClient({ url: rc.url, user: 'u', password: 'p', logger: log.logger });
    for (let i = 0; i < 3; i++) await client.notifyChanged(['a']);
    assert.equal(log.warns().length, 1);
    assert.equal(log.warns()[0]?.component, 'mount-hint');
    assert.match(log.warns()[0]?.reason ?? '', /401: MOUNT_RC_USER\/MOUNT_RC_PASS/);
    assert.match(log.warns()[0]?.msg ?? '', /RCLONE_DIR_CACHE_TIME/);
  });

  test('refreshCalls: the top level first, then the changed trees and the trash; everything changed refreshes every tree', () => {
    assert.deepEqual(refreshCalls(['a', 'b', 'c']), [
      {},
      { dir: 'a', dir2: 'b', dir3: 'c', dir4: '.trash', recursive: 'true' },
    ]);
    assert.deepEqual(refreshCalls([]), [{}, { recursive: 'true' }]);
  });
});

test('mountRcPassword is what the mount image derives (rc-password.sh), and depends on the secret', () => {
  for (const secret of ['minioadmin', 'a3f9 c2e1/b7d8+4f60', 'ünïcödé-секрет']) {
    const fromShell = execFileSync('sh', [RC_PASSWORD_SH], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', S3_SECRET_ACCESS_KEY: secret },
      encoding: 'utf8',
    }).trim();
    assert.equal(mountRcPassword(secret), fromShell, secret);
    assert.match(fromShell, /^[0-9a-f]{64}$/);
  }
  assert.notEqual(mountRcPassword('one'), mountRcPassword('two'));
});
