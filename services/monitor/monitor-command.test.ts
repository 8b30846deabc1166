import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveSettings } from '../common/settings.ts';
import { engineClash, originClash } from './monitor-command.ts';
import { MONITOR_SETTINGS } from './monitor-settings.ts';

const settings = (env: Record<string, string>) => resolveSettings(MONITOR_SETTINGS, { env });

test('the admin and the apps never share a port or a public origin', () => {
  assert.equal(originClash(settings({})), undefined, 'defaults: 8080 and 8081');
  assert.match(
    originClash(settings({ MONITOR_PORT: '9000', MONITOR_ADMIN_PORT: '9000' })) ?? '',
    /MONITOR_ADMIN_PORT \(9000\) must differ from MONITOR_PORT/,
  );
  assert.equal(
    originClash(settings({ MONITOR_PORT: '0', MONITOR_ADMIN_PORT: '0' })),
    undefined,
    'two free ports',
  );
  assert.match(
    originClash(
      settings({
        MONITOR_ADMIN_URL: 'https://example.com/',
        MONITOR_APPS_URL: 'https://EXAMPLE.com:443',
      }),
    ) ?? '',
    /are the same origin \(https:\/\/example\.com\)/,
  );
});

test('on a swarm the apps firewall and the disk budget must be off: they work on one Docker engine only', () => {
  assert.equal(engineClash(settings({})), undefined, 'the Docker engine: both on by default');
  assert.match(
    engineClash(settings({ RUNTIME_ENGINE: 'swarm' })) ?? '',
    /^the apps firewall and the disk budget work on one Docker engine only, not with RUNTIME_ENGINE=swarm \(RUNTIME_ISOLATION=firewall, RUNTIME_DISK\): set RUNTIME_ISOLATION=off and RUNTIME_DISK=off/,
  );
  assert.match(
    engineClash(settings({ RUNTIME_ENGINE: 'swarm', RUNTIME_ISOLATION: 'off' })) ?? '',
    /\(RUNTIME_DISK\): set/,
  );
  assert.equal(
    engineClash(
      settings({ RUNTIME_ENGINE: 'swarm', RUNTIME_ISOLATION: 'off', RUNTIME_DISK: 'off' }),
    ),
    undefined,
  );
});

test('MONITOR_ADMIN_URL and MONITOR_APPS_URL must be origins', () => {
  assert.equal(
    settings({ MONITOR_ADMIN_URL: 'https://monitor.example.com/' }).adminUrl,
    'https://monitor.example.com',
  );
  for (const bad of [
    'monitor.example.com',
    'ftp://x',
    'https://x/monitor',
    'https://u:p@x',
    'https://x/?a=1',
  ]) {
    assert.throws(() => settings({ MONITOR_ADMIN_URL: bad }), /MONITOR_ADMIN_URL/, bad);
  }
});

test('MONITOR_TOKEN: short or spaced tokens stop the start, without showing them', () => {
  for (const token of ['short', '               x', 'a token with spaces in it']) {
    assert.throws(
      () => settings({ MONITOR_TOKEN: token }),
      (err: Error) =>
        /MONITOR_TOKEN: must/.test(err.message) && !err.message.includes(token.trim()),
      token,
    );
  }
  assert.equal(settings({ MONITOR_TOKEN: '  sixteen-chars-xx  ' }).token, 'sixteen-chars-xx');
});
