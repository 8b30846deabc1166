import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fingerprintFiles } from './fingerprint.ts';

describe('fingerprintFiles', () => {
  const base = { relPath: 'a', size: 1, mtimeMs: 1000.5, mode: 0o100644 };

  test('depends on path, size, mtime and permission bits only', () => {
    const f = fingerprintFiles([base]);
    assert.match(f, /^[0-9a-f]{32}$/);
    assert.equal(fingerprintFiles([{ ...base }]), f);
    for (const change of [{ relPath: 'b' }, { size: 2 }, { mtimeMs: 1000.6 }, { mode: 0o100755 }]) {
      assert.notEqual(fingerprintFiles([{ ...base, ...change }]), f, JSON.stringify(change));
    }
    // The file type bits are not permissions: a regular file seen through a symlink counts the same.
    assert.equal(fingerprintFiles([{ ...base, mode: 0o120644 }]), f);
  });

  test('fields cannot run into each other', () => {
    assert.notEqual(
      fingerprintFiles([{ relPath: 'a1', size: 2, mtimeMs: 3 }]),
      fingerprintFiles([{ relPath: 'a', size: 12, mtimeMs: 3 }]),
    );
    assert.notEqual(fingerprintFiles([]), fingerprintFiles([{ relPath: '', size: 0, mtimeMs: 0 }]));
  });
});
