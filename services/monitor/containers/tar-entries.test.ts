// The tar reader against archives written by GNU tar in the formats the Docker engine and
// others use (ustar, pax with long names, gnu with long names).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { tarEntries } from './tar-entries.ts';

const root = mkdtempSync(path.join(tmpdir(), 'bs-tar-'));
after(() => rmSync(root, { recursive: true, force: true }));

const long = `${'d'.repeat(60)}/${'f'.repeat(120)}.txt`;
mkdirSync(path.join(root, 'report', 'd'.repeat(60)), { recursive: true });
writeFileSync(path.join(root, 'report', 'copied'), '12 1700000000.5 a.js\0');
writeFileSync(path.join(root, 'report', 'dependencies'), 'reused\n');
writeFileSync(path.join(root, 'report', 'big'), Buffer.alloc(1500, 7));
writeFileSync(path.join(root, 'report', long), 'long');

function archive(format: string): Buffer {
  return execFileSync('tar', ['-C', root, `--format=${format}`, '-cf', '-', 'report']);
}

for (const format of ['ustar', 'pax', 'gnu']) {
  test(`${format}: names, types and contents`, () => {
    if (format === 'ustar') {
      // ustar cannot hold the long name; without it the rest is the same.
      rmSync(path.join(root, 'report', long));
    }
    const entries = tarEntries(archive(format));
    const files = new Map(entries.filter((e) => e.type === '0').map((e) => [e.name, e.data]));
    assert.equal(files.get('report/copied')?.toString(), '12 1700000000.5 a.js\0');
    assert.equal(files.get('report/dependencies')?.toString(), 'reused\n');
    assert.deepEqual(files.get('report/big'), Buffer.alloc(1500, 7));
    if (format !== 'ustar') assert.equal(files.get(`report/${long}`)?.toString(), 'long');
    assert.ok(entries.some((e) => e.name === 'report/' && e.type === '5'));
    if (format === 'ustar') writeFileSync(path.join(root, 'report', long), 'long');
  });
}

test('a corrupt or truncated archive is an error, not a short answer', () => {
  const good = archive('pax');
  const corrupt = Buffer.from(good);
  corrupt[10] = (corrupt[10] ?? 0) ^ 0xff;
  assert.throws(() => tarEntries(corrupt), /checksum/);
  assert.throws(() => tarEntries(good.subarray(0, 1024 + 100)), /runs past the end|cut short/);
  assert.deepEqual(tarEntries(Buffer.alloc(1024)), []);
});
