import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../../test/support/manual-clock.ts';
import { TrashListing } from './trash-listing.ts';

async function put(root: string, rel: string): Promise<void> {
  await mkdir(join(root, rel, '..'), { recursive: true });
  await writeFile(join(root, rel), 'x');
}

test('the trash of a mount: entries newest first, strays left out, no .trash is an empty trash; reused for cacheMs', async () => {
  const root = await mkdtemp(join(tmpdir(), 'bs-trash-listing-'));
  const clock = new ManualClock();
  try {
    const listing = new TrashListing({ root, clock, cacheMs: 10_000 });
    assert.deepEqual(await listing.list(), [], 'no .trash yet');
    clock.advance(10_000);
    await put(root, '.trash/shop/2026-11-30T12-00-00.000Z/index.js');
    await put(root, '.trash/api/2026-11-30T13-00-00.000Z/app.py');
    await put(root, '.trash/api/not-a-time/x');
    await put(root, '.trash/loose-file');
    const entries = await listing.list();
    assert.deepEqual(
      entries.map((e) => [e.workspace, e.entry, e.deletedAt, e.restore]),
      [
        [
          'api',
          '2026-11-30T13-00-00.000Z',
          '2026-11-30T13:00:00.000Z',
          'bucketspace sync restore api --at 2026-11-30T13-00-00.000Z',
        ],
        [
          'shop',
          '2026-11-30T12-00-00.000Z',
          '2026-11-30T12:00:00.000Z',
          'bucketspace sync restore shop --at 2026-11-30T12-00-00.000Z',
        ],
      ],
    );
    await put(root, '.trash/blog/2026-11-30T14-00-00.000Z/a.html');
    assert.equal((await listing.list()).length, 2, 'from the cache');
    clock.advance(10_000);
    assert.equal((await listing.list()).length, 3, 'listed again');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
