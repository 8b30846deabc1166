import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WorkspaceSnapshot } from '../types.ts';
import { crashBackoffMs } from './crash-backoff.ts';
import { judgeMount } from './mount-judgement.ts';

const one = new Map<string, WorkspaceSnapshot>([
  [
    'a',
    {
      name: 'a',
      dir: '/w/a',
      fingerprint: 'f',
      fileCount: 1,
      lastChangeMs: 0,
      probe: { name: 'a', files: new Set(), texts: new Map() },
      files: [],
      hashes: new Map(),
      errors: [],
    },
  ],
]);

test('an unavailable mount is never trusted', () => {
  const j = judgeMount({ mount: 'unavailable', reason: 'ENOTCONN' }, 0);
  assert.deepEqual(j, { ok: false, reason: 'ENOTCONN' });
});

test('an empty root while containers run is treated as a broken mount', () => {
  const j = judgeMount({ mount: 'ok', workspaces: new Map() }, 3);
  assert.equal(j.ok, false);
  assert.match(j.ok ? '' : j.reason, /looks empty while 3 workspace container/);
});

test('an empty root with nothing running, or a non-empty root, is fine', () => {
  assert.equal(judgeMount({ mount: 'ok', workspaces: new Map() }, 0).ok, true);
  assert.equal(judgeMount({ mount: 'ok', workspaces: one }, 5).ok, true);
});

test('crash backoff doubles from 2 s and stops at 5 min', () => {
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((n) => crashBackoffMs(n)),
    [0, 2000, 4000, 8000, 16000],
  );
  assert.equal(crashBackoffMs(30), 300_000);
});
