import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readIgnoreFile } from '../../common/ignore/workspace-filter.ts';
import { FileTextCache } from './file-text-cache.ts';

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'bucketspace-text-cache-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function countingCache(): { cache: FileTextCache; reads: string[] } {
  const reads: string[] = [];
  const cache = new FileTextCache((absPath, options) => {
    reads.push(path.basename(absPath));
    return readIgnoreFile(absPath, options);
  });
  return { cache, reads };
}

describe('FileTextCache', () => {
  test('reads a version once; a new size, mtime or inode reads again', async () => {
    const file = path.join(dir, 'a');
    writeFileSync(file, 'one');
    const { cache, reads } = countingCache();
    cache.beginScan();
    const stats = statSync(file);
    assert.equal(await cache.read(file, stats), 'one');
    assert.equal(await cache.read(file, stats), 'one');
    assert.deepEqual(reads, ['a']);
    assert.equal(await cache.read(file, { ...stats, mtimeMs: stats.mtimeMs + 1 }), 'one');
    assert.equal(await cache.read(file, { ...stats, ino: stats.ino + 1 }), 'one');
    assert.deepEqual(reads, ['a', 'a', 'a']);
  });

  test('as an ignore-file reader: missing files and symlinks not followed read nothing', async () => {
    const file = path.join(dir, 'rules');
    writeFileSync(file, 'x\n');
    symlinkSync(file, path.join(dir, 'link'));
    const { cache, reads } = countingCache();
    cache.beginScan();
    assert.equal(
      await cache.readIgnoreFile(path.join(dir, 'none'), { followSymlink: true }),
      undefined,
    );
    assert.equal(
      await cache.readIgnoreFile(path.join(dir, 'link'), { followSymlink: false }),
      undefined,
    );
    assert.equal(
      await cache.readIgnoreFile(path.join(dir, 'link'), { followSymlink: true }),
      'x\n',
    );
    assert.equal(
      await cache.readIgnoreFile(path.join(dir, 'link'), { followSymlink: true }),
      'x\n',
    );
    assert.equal(await cache.readIgnoreFile(dir, { followSymlink: true }), undefined);
    assert.deepEqual(reads, ['link']);
  });

  test('entries not used during a scan are dropped at its end', async () => {
    const a = path.join(dir, 'keep');
    const b = path.join(dir, 'drop');
    writeFileSync(a, 'a');
    writeFileSync(b, 'b');
    const { cache, reads } = countingCache();
    cache.beginScan();
    await cache.read(a, statSync(a));
    await cache.read(b, statSync(b));
    cache.endScan();
    assert.equal(cache.size, 2);
    cache.beginScan();
    await cache.read(a, statSync(a));
    cache.endScan();
    assert.equal(cache.size, 1);
    cache.beginScan();
    await cache.read(b, statSync(b));
    assert.deepEqual(reads, ['keep', 'drop', 'drop']);
  });
});
