import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_UPLOAD_CUTOFF, MAX_PARTS, MIN_PART_SIZE, partSizeFor } from './multipart.ts';
import { localEtags, multipartParts } from './etag.ts';

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

test('part size keeps every upload under the 10,000-part limit, up to 5 TiB', () => {
  for (const size of [
    DEFAULT_UPLOAD_CUTOFF,
    5 * 2 ** 30,
    6 * 2 ** 30,
    80 * 2 ** 30,
    500 * 2 ** 30,
    5 * 2 ** 40,
  ]) {
    const part = partSizeFor(size);
    assert.ok(part >= MIN_PART_SIZE, `part ${part} for ${size}`);
    assert.ok(Math.ceil(size / part) <= MAX_PARTS, `${Math.ceil(size / part)} parts for ${size}`);
  }
  assert.equal(
    partSizeFor(6 * 2 ** 30),
    MIN_PART_SIZE,
    'a 6 GiB file uses 8 MiB parts (768 parts)',
  );
});

test('multipartParts reads N from md5-N and nothing else', () => {
  assert.equal(multipartParts(`${'a'.repeat(32)}-3`), 3);
  assert.equal(multipartParts('a'.repeat(32)), undefined);
  assert.equal(multipartParts('not-an-etag-3'), undefined);
});

test('local ETags take the form of the listed ETag: plain MD5, or md5-of-parts with our part size', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bs-etag-'));
  try {
    const small = join(dir, 'small');
    await writeFile(small, 'hello');
    assert.deepEqual(await localEtags(small, 5, md5(Buffer.from('hello'))), [
      '5d41402abc4b2a76b9719d911017c592',
    ]);

    // 16 MiB + 123 bytes: 3 parts of 8 MiB, as earlier versions uploaded every file from 16 MiB.
    const size = 2 * MIN_PART_SIZE + 123;
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i++) data[i] = (i * 31) & 0xff;
    const big = join(dir, 'big');
    await writeFile(big, data);
    const part = partSizeFor(size);
    const parts = [data.subarray(0, part), data.subarray(part, 2 * part), data.subarray(2 * part)];
    const expected =
      createHash('md5')
        .update(Buffer.concat(parts.map((p) => createHash('md5').update(p).digest())))
        .digest('hex') + '-3';
    const whole = md5(data);

    // Listed as a multipart upload (uploaded before the cutoff moved): both forms, so it compares equal.
    assert.deepEqual(await localEtags(big, size, `${'0'.repeat(32)}-3`), [expected, whole]);
    // Listed as a single PUT (the cutoff now): the whole file's MD5 only.
    assert.deepEqual(await localEtags(big, size, whole), [whole]);
    // A part count our part size cannot give (another tool's parts): no multipart guess, only the MD5.
    assert.deepEqual(await localEtags(big, size, `${'0'.repeat(32)}-7`), [whole]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
