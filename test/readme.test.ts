// The README documents every setting, and the test command CI runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { S3_SETTINGS } from '../services/common/s3/s3-settings.ts';
import { SYNC_SETTINGS } from '../services/sync/sync-settings.ts';
import { MOUNT_SETTINGS } from '../services/mounts/mount-settings.ts';
import { MONITOR_SETTINGS } from '../services/monitor/monitor-settings.ts';
import { STACK_SETTINGS } from '../services/stack/stack-command.ts';
import { MIRROR_SETTINGS } from '../services/mirror/mirror-settings.ts';

const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
const ci = await readFile(new URL('../.ci/run', import.meta.url), 'utf8');

test('every setting has a row in the README settings table, with its flag', () => {
  for (const s of [
    ...Object.values(S3_SETTINGS),
    ...Object.values(SYNC_SETTINGS),
    ...Object.values(MOUNT_SETTINGS),
    ...Object.values(MONITOR_SETTINGS),
    ...Object.values(STACK_SETTINGS),
    ...Object.values(MIRROR_SETTINGS),
  ]) {
    const row = readme.split('\n').find((l) => l.split('|')[1]?.trim() === `\`${s.env}\``);
    assert.ok(row, `README has no row for ${s.env}`);
    if (s.flag) assert.ok(row.includes(`\`${s.flag}\``), `README row for ${s.env} lacks ${s.flag}`);
  }
});

test('README shows how to start the stack and run the tests; CI runs that test command last', () => {
  assert.match(readme, /docker compose up/);
  assert.match(readme, /^npm test\b/m);
  const lines = ci.trim().split('\n');
  assert.equal(lines.at(-1), 'npm test');
});
