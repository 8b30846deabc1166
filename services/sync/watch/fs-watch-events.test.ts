import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FileEventKind } from './file-events.ts';
import { fsWatchEvents } from './fs-watch-events.ts';

/** A watch on a fresh directory that records every event as `kind relative/path`. */
async function watched(options: { depth?: number } = {}) {
  const root = await mkdtemp(join(tmpdir(), 'bucketspace-fswatch-'));
  await mkdir(join(root, 'src'), { recursive: true });
  await mkdir(join(root, 'node_modules', 'pkg'), { recursive: true });
  await writeFile(join(root, 'src', 'a.js'), 'a');
  const events: string[] = [];
  const errors: unknown[] = [];
  const ignoredAsked: string[] = [];
  const w = await fsWatchEvents.watch({
    root,
    ...(options.depth !== undefined ? { depth: options.depth } : {}),
    ignored: (path, isDirectory) => {
      ignoredAsked.push(path.slice(root.length + 1));
      return isDirectory === true && path.endsWith('node_modules');
    },
    onEvent: (kind: FileEventKind, path: string) =>
      events.push(`${kind} ${path.slice(root.length + 1)}`),
    onError: (err) => errors.push(err),
  });
  /** Waits until one of these events has come (the test's own timeout bounds it). */
  const waitFor = async (...lines: string[]) => {
    while (!lines.some((l) => events.includes(l))) await new Promise((r) => setTimeout(r, 10));
  };
  return {
    root,
    events,
    errors,
    ignoredAsked,
    waitFor,
    close: async () => {
      await w.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

describe('fs.watch file events', () => {
  test('files created, edited, renamed over and deleted are told by path; nothing before the start', async () => {
    const t = await watched();
    try {
      assert.deepEqual(t.events, [], 'what was there at the start raises no event');
      await writeFile(join(t.root, 'src', 'b.js'), 'b');
      await t.waitFor('change src/b.js');
      await writeFile(join(t.root, 'src', '.tmp-save'), 'a2');
      await rename(join(t.root, 'src', '.tmp-save'), join(t.root, 'src', 'a.js'));
      await t.waitFor('change src/a.js');
      await rm(join(t.root, 'src', 'b.js'));
      await t.waitFor('unlink src/b.js');
      assert.deepEqual(t.errors, []);
    } finally {
      await t.close();
    }
  });

  test('a new directory is watched before it is read: files written into it at once are told', async () => {
    const t = await watched();
    try {
      await mkdir(join(t.root, 'src', 'new', 'deep'), { recursive: true });
      await writeFile(join(t.root, 'src', 'new', 'deep', 'c.js'), 'c');
      await t.waitFor('addDir src/new');
      // `add` when it was there as the new directory was read, `change` when it came after.
      await t.waitFor('add src/new/deep/c.js', 'change src/new/deep/c.js');
      await writeFile(join(t.root, 'src', 'new', 'deep', 'd.js'), 'd');
      await t.waitFor('change src/new/deep/d.js');
      await rm(join(t.root, 'src', 'new'), { recursive: true });
      await t.waitFor('unlinkDir src/new');
    } finally {
      await t.close();
    }
  });

  test('a renamed directory: the old path goes, the new one comes with its files, later edits are told under the new path', async () => {
    const t = await watched();
    try {
      await mkdir(join(t.root, 'src', 'old', 'deep'), { recursive: true });
      await writeFile(join(t.root, 'src', 'old', 'deep', 'c.js'), 'c');
      await t.waitFor('add src/old/deep/c.js', 'change src/old/deep/c.js');
      await rename(join(t.root, 'src', 'old'), join(t.root, 'src', 'moved'));
      await t.waitFor('unlinkDir src/old');
      await t.waitFor('addDir src/moved');
      await t.waitFor('add src/moved/deep/c.js');
      const mark = t.events.length;
      await writeFile(join(t.root, 'src', 'moved', 'deep', 'd.js'), 'd');
      await t.waitFor('change src/moved/deep/d.js');
      // Moved in from outside the tree: told like a new directory, with what it holds.
      const outside = await mkdtemp(join(tmpdir(), 'bucketspace-fswatch-outside-'));
      await writeFile(join(outside, 'e.js'), 'e');
      await rename(outside, join(t.root, 'src', 'arrived'));
      await t.waitFor('add src/arrived/e.js');
      await writeFile(join(t.root, 'src', 'arrived', 'f.js'), 'f');
      await t.waitFor('change src/arrived/f.js');
      assert.deepEqual(
        t.events.slice(mark).filter((e) => e.includes('src/old/') && !e.startsWith('unlink ')),
        [],
        'nothing is told as added or changed under the old path after the rename',
      );
      assert.deepEqual(t.errors, []);
    } finally {
      await t.close();
    }
  });

  test('excluded directories are never opened: nothing under them is asked about or told', async () => {
    const t = await watched();
    try {
      await writeFile(join(t.root, 'node_modules', 'pkg', 'index.js'), 'x');
      await mkdir(join(t.root, 'node_modules', 'other'));
      await writeFile(join(t.root, 'src', 'marker.js'), 'm');
      await t.waitFor('change src/marker.js');
      assert.deepEqual(
        t.events.filter((e) => e.includes('node_modules/')),
        [],
      );
      assert.deepEqual(
        t.ignoredAsked.filter((p) => p.startsWith('node_modules/')),
        [],
        'the excluded directory was never read',
      );
    } finally {
      await t.close();
    }
  });

  test('depth 0: the root entries only; a directory appearing or going is told as such', async () => {
    const t = await watched({ depth: 0 });
    try {
      await mkdir(join(t.root, 'added'));
      await t.waitFor('addDir added');
      await writeFile(join(t.root, 'added', 'inside.js'), 'i');
      await rm(join(t.root, 'src'), { recursive: true });
      await t.waitFor('unlinkDir src');
      await rm(join(t.root, 'added'), { recursive: true });
      await t.waitFor('unlinkDir added');
      assert.deepEqual(
        t.events.filter((e) => e.includes('/')),
        [],
        'nothing below the root entries',
      );
    } finally {
      await t.close();
    }
  });
});
