import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkCopy } from './deploy-check.ts';

const scanned = [
  { relPath: 'index.js', size: 10, mtimeMs: 1_700_000_000_123.457 },
  { relPath: 'node_modules/x/index.js', size: 5, mtimeMs: 1 },
  { relPath: 'msg.txt', size: 3, mtimeMs: 1_700_000_000_000 },
];

test('the same sizes and mtimes (to the millisecond) match; extra copied files are fine', () => {
  const copied = new Map([
    ['index.js', { size: 10, mtimeMs: 1_700_000_000_123.459 }],
    ['node_modules/x/index.js', { size: 5, mtimeMs: 1 }],
    ['msg.txt', { size: 3, mtimeMs: 1_700_000_000_000 }],
    ['.env', { size: 3, mtimeMs: 1 }],
  ]);
  assert.deepEqual(checkCopy(scanned, copied), { ok: true, files: 3 });
});

test('a different size, an older mtime, a missing file: each named, the rest counted', () => {
  const copied = new Map([
    ['index.js', { size: 9, mtimeMs: 1_700_000_000_123.457 }],
    ['msg.txt', { size: 3, mtimeMs: 1_699_999_999_000 }],
  ]);
  const check = checkCopy([...scanned, { relPath: 'z.js', size: 1, mtimeMs: 1 }], copied);
  assert.deepEqual(check, {
    ok: false,
    count: 4,
    problems: [
      'index.js: 10 bytes in the scan, 9 in the copy',
      'node_modules/x/index.js: not in the copy',
      'msg.txt: modified 2023-11-14T22:13:20.000Z in the scan, 2023-11-14T22:13:19.000Z in the copy',
    ],
  });
});

test('files under the dependency cache are not compared (the cache replaces them)', () => {
  const copied = new Map([
    ['index.js', { size: 10, mtimeMs: 1_700_000_000_123.457 }],
    ['msg.txt', { size: 3, mtimeMs: 1_700_000_000_000 }],
  ]);
  assert.deepEqual(checkCopy(scanned, copied, 'node_modules'), { ok: true, files: 2 });
});
