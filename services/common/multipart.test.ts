import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  localEtags,
  MAX_PARTS,
  MIN_PART_SIZE,
  MULTIPART_THRESHOLD,
  partSizeFor,
} from './multipart.ts';

test('part size keeps every upload under the 10,000-part limit, up to 5 TiB', () => {
  for (const size of [
    MULTIPART_THRESHOLD,
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

test('local ETags: plain MD5 below the threshold, md5-of-parts and whole MD5 above', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bs-etag-'));
  try {
    const small = join(dir, 'small');
    await writeFile(small, 'hello');
    assert.deepEqual(await localEtags(small, 5), ['5d41402abc4b2a76b9719d911017c592']);

    const size = MULTIPART_THRESHOLD + 123;
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
    const whole = createHash('md5').update(data).digest('hex');
    assert.deepEqual(await localEtags(big, size), [expected, whole]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
