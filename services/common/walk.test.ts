import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import fsPromises from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isBucketspaceError, localError } from './errors.ts';
import { WorkspaceFilter } from './ignore/workspace-filter.ts';
import { walkWorkspace, type WalkResult } from './walk.ts';
import { unprivilegedSkipReason } from '../../test/support/unprivileged.ts';

let scratch: string;
let counter = 0;

before(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'bucketspace-walk-'));
});
after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** A fresh workspace with the given files (content by relPath; a trailing / makes a directory). */
function workspace(files: Record<string, string> = {}): string {
  const root = path.join(scratch, `ws${counter++}`);
  mkdirSync(root);
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(root, rel);
    if (rel.endsWith('/')) {
      mkdirSync(abs, { recursive: true });
    } else {
      mkdirSync(path.dirname(abs), { recursive: true });
      writeFileSync(abs, content);
    }
  }
  return root;
}

async function walk(root: string, filter?: WorkspaceFilter): Promise<WalkResult> {
  return walkWorkspace({ root, filter: filter ?? (await WorkspaceFilter.load({ root })) });
}

function relPaths(items: readonly { relPath: string }[]): string[] {
  return items.map((i) => i.relPath);
}

describe('walkWorkspace', () => {
  test('lists files sorted with their stats; empty files yes, empty dirs no', async () => {
    const root = workspace({
      'b.txt': 'hello',
      'a/empty.txt': '',
      'a/z/deep.txt': 'x',
      'empty-dir/': '',
      '.gitignore': '*.tmp\n',
      'skip.tmp': '',
    });
    const result = await walk(root);
    assert.deepEqual(relPaths(result.files), [
      '.gitignore',
      'a/empty.txt',
      'a/z/deep.txt',
      'b.txt',
    ]);
    const b = result.files.find((f) => f.relPath === 'b.txt');
    const stats = statSync(path.join(root, 'b.txt'));
    assert.deepEqual(b, {
      relPath: 'b.txt',
      absPath: path.join(root, 'b.txt'),
      size: 5,
      mtimeMs: stats.mtimeMs,
      ctimeMs: stats.ctimeMs,
      ino: stats.ino,
      mode: stats.mode,
    });
    assert.equal(result.files[1]?.size, 0);
    assert.deepEqual(result.ignored, [
      {
        relPath: 'skip.tmp',
        isDirectory: false,
        rule: { source: '.gitignore', line: 1, pattern: '*.tmp', negative: false },
      },
    ]);
    assert.deepEqual(result.skipped, []);
    assert.deepEqual(result.errors, []);
  });

  test('never opens an ignored directory (2,000 files under node_modules)', async () => {
    const root = workspace({ 'src/index.ts': '', 'src/node_modules/x/y.js': '' });
    const modules = path.join(root, 'node_modules', 'pkg');
    mkdirSync(modules, { recursive: true });
    for (let i = 0; i < 2000; i++) writeFileSync(path.join(modules, `f${i}.js`), '');
    const opened: string[] = [];
    const { readdir, opendir } = fsPromises;
    fsPromises.readdir = ((dir: string, options: never) => {
      opened.push(path.relative(root, String(dir)));
      return readdir(dir, options);
    }) as typeof readdir;
    fsPromises.opendir = ((dir: string, options: never) => {
      opened.push(path.relative(root, String(dir)));
      return opendir(dir, options);
    }) as typeof opendir;
    syncBuiltinESMExports();
    let result: WalkResult;
    try {
      result = await walk(root);
    } finally {
      fsPromises.readdir = readdir;
      fsPromises.opendir = opendir;
      syncBuiltinESMExports();
    }
    assert.deepEqual(opened.sort(), ['', 'src']);
    assert.deepEqual(relPaths(result.files), ['src/index.ts']);
    assert.deepEqual(
      result.ignored.map((i) => [i.relPath, i.isDirectory, i.rule?.pattern]),
      [
        ['node_modules', true, 'node_modules/'],
        ['src/node_modules', true, 'node_modules/'],
      ],
    );
  });

  test('reads nested .gitignore files before deciding on their entries', async () => {
    const root = workspace({
      '.gitignore': '*.gen\n',
      'a/.gitignore': '!keep.gen\n/local\n',
      'a/keep.gen': '',
      'a/x.gen': '',
      'a/local': '',
      'a/b/local': '',
      'a/b/keep.gen': '',
      'c/keep.gen': '',
    });
    const result = await walk(root);
    assert.deepEqual(relPaths(result.files), [
      '.gitignore',
      'a/.gitignore',
      'a/b/keep.gen',
      'a/b/local',
      'a/keep.gen',
    ]);
  });

  test('a .syncignore re-includes a default directory', async () => {
    const root = workspace({ '.syncignore': '!dist/\n', 'dist/a.js': '', 'build/b.js': '' });
    const result = await walk(root);
    assert.deepEqual(relPaths(result.files), ['.syncignore', 'dist/a.js']);
    assert.deepEqual(relPaths(result.ignored), ['build']);
  });

  test('symlinks: inside file returned, directory / outside / dangling / loop skipped', async () => {
    const root = workspace({ 'real/target.txt': 'content', 'real/sub/x': '' });
    const outside = path.join(scratch, `outside${counter++}.txt`);
    writeFileSync(outside, 'secret');
    symlinkSync('real/target.txt', path.join(root, 'to-file'));
    symlinkSync(path.join(root, 'real', 'sub'), path.join(root, 'to-dir'));
    symlinkSync('.', path.join(root, 'to-root'));
    symlinkSync(outside, path.join(root, 'to-outside'));
    symlinkSync('../../..', path.join(root, 'real', 'to-parent'));
    symlinkSync('nowhere', path.join(root, 'dangling'));
    symlinkSync('loop-b', path.join(root, 'loop-a'));
    symlinkSync('loop-a', path.join(root, 'loop-b'));
    symlinkSync('to-file', path.join(root, 'chain'));
    const result = await walk(root);
    const target = statSync(path.join(root, 'real', 'target.txt'));
    assert.deepEqual(
      result.files.map((f) => [f.relPath, f.viaSymlink, f.size, f.ino]),
      [
        ['chain', 'real/target.txt', 7, target.ino],
        ['real/sub/x', undefined, 0, statSync(path.join(root, 'real/sub/x')).ino],
        ['real/target.txt', undefined, 7, target.ino],
        ['to-file', 'real/target.txt', 7, target.ino],
      ],
    );
    assert.equal(
      result.files.find((f) => f.relPath === 'to-file')?.absPath,
      path.join(root, 'to-file'),
    );
    assert.deepEqual(
      result.skipped.map((s) => [s.relPath, s.reason]),
      [
        ['dangling', 'symlink-dangling'],
        ['loop-a', 'symlink-dangling'],
        ['loop-b', 'symlink-dangling'],
        ['real/to-parent', 'symlink-outside'],
        ['to-dir', 'symlink-directory'],
        ['to-outside', 'symlink-outside'],
        ['to-root', 'symlink-directory'],
      ],
    );
    assert.deepEqual(result.errors, []);
  });

  test('a symlink is matched as a file: dir-only rules do not exclude it', async () => {
    const root = workspace({ 'real/a': '', '.gitignore': 'link/\nother\n' });
    symlinkSync('real/a', path.join(root, 'link'));
    symlinkSync('real/a', path.join(root, 'other'));
    const result = await walk(root);
    assert.deepEqual(relPaths(result.files), ['.gitignore', 'link', 'real/a']);
    assert.deepEqual(relPaths(result.ignored), ['other']);
  });

  test('a symlink to an excluded file is not followed: `cfg -> .env` does not leak the secret', async () => {
    const root = workspace({ '.env': 'SECRET=1', 'node_modules/x/i.js': 'dep', 'ok.txt': 'ok' });
    symlinkSync('.env', path.join(root, 'cfg'));
    symlinkSync('node_modules/x/i.js', path.join(root, 'dep.js'));
    symlinkSync('ok.txt', path.join(root, 'alias.txt'));
    const result = await walk(root);
    assert.deepEqual(relPaths(result.files), ['alias.txt', 'ok.txt']);
    assert.deepEqual(
      result.skipped.map((s) => [s.relPath, s.reason]),
      [
        ['cfg', 'symlink-to-excluded'],
        ['dep.js', 'symlink-to-excluded'],
      ],
    );
  });

  test('.git is never uploaded, even when a whitelist .gitignore re-includes every directory', async () => {
    const root = workspace({
      '.git/HEAD': 'ref',
      '.gitignore': '*\n!*/\n!*.js\n',
      'src/a.js': 'a',
    });
    const result = await walk(root);
    assert.deepEqual(relPaths(result.files), ['src/a.js']);
    assert.ok(relPaths(result.ignored).includes('.git'));
  });

  test('special files are skipped', async () => {
    const root = workspace({ 'a.txt': '' });
    const fifo = spawnSync('mkfifo', [path.join(root, 'pipe')]);
    assert.equal(fifo.status, 0, 'mkfifo');
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path.join(root, 'sock'), resolve));
    symlinkSync('pipe', path.join(root, 'to-pipe'));
    try {
      const result = await walk(root);
      assert.deepEqual(relPaths(result.files), ['a.txt']);
      assert.deepEqual(
        result.skipped.map((s) => [s.relPath, s.reason]),
        [
          ['pipe', 'special-file'],
          ['sock', 'special-file'],
          ['to-pipe', 'special-file'],
        ],
      );
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('odd names: spaces, unicode, #?%+, 255-byte names, deep paths', async () => {
    const long = 'é'.repeat(127) + 'x'; // 255 bytes
    const deep = Array.from({ length: 40 }, (_, i) => `level-${i}-${'d'.repeat(60)}`).join('/');
    const names = [
      'with space.txt',
      ' leading',
      'trailing ',
      'ünïcödé/日本語.txt',
      '#?%+&=;,@!$\'"`~()[]{}<>|\\*.txt',
      'new\nline',
      'tab\there',
      long,
      `${deep}/bottom.txt`,
    ];
    const root = workspace(Object.fromEntries(names.map((n) => [n, 'x'])));
    const result = await walk(root);
    assert.deepEqual(
      relPaths(result.files),
      [...names].sort((a, b) => (a < b ? -1 : 1)),
    );
    assert.equal(Buffer.byteLength(long), 255);
    assert.deepEqual(result.errors, []);
  });

  test('a name that is not valid UTF-8 is skipped as invalid-name', async () => {
    const root = workspace({ 'ok.txt': '' });
    const bad = Buffer.concat([
      Buffer.from(`${root}/bad-`),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('.txt'),
    ]);
    writeFileSync(bad, '');
    const result = await walk(root);
    assert.deepEqual(relPaths(result.files), ['ok.txt']);
    assert.deepEqual(
      result.skipped.map((s) => [s.relPath, s.reason]),
      [['bad-\uFFFD\uFFFD.txt', 'invalid-name']],
    );
  });

  test('a file deleted between readdir and lstat is skipped as vanished', async () => {
    const root = workspace({ 'a.txt': '', 'gone.txt': '', 'z.txt': '' });
    const filter = await WorkspaceFilter.load({ root });
    const isIgnored = filter.isIgnored.bind(filter);
    filter.isIgnored = (relPath, isDirectory) => {
      if (relPath === 'gone.txt') unlinkSync(path.join(root, relPath));
      return isIgnored(relPath, isDirectory);
    };
    const result = await walk(root, filter);
    assert.deepEqual(relPaths(result.files), ['a.txt', 'z.txt']);
    assert.deepEqual(
      result.skipped.map((s) => [s.relPath, s.reason]),
      [['gone.txt', 'vanished']],
    );
    assert.deepEqual(result.errors, []);
  });

  test('a directory that vanishes mid-walk is an error (the walk is incomplete)', async () => {
    const root = workspace({ 'a/x': '', 'b/y': '' });
    const filter = await WorkspaceFilter.load({ root });
    const enter = filter.enterDirectory.bind(filter);
    filter.enterDirectory = async (relDir) => {
      if (relDir === 'a') rmSync(path.join(root, 'a'), { recursive: true });
      return enter(relDir);
    };
    const result = await walk(root, filter);
    assert.deepEqual(relPaths(result.files), ['b/y']);
    assert.deepEqual(
      result.errors.map((e) => [e.relPath, e.reason]),
      [['a', 'vanished']],
    );
  });

  test('an unreadable nested .gitignore makes its directory an error', async () => {
    const root = workspace({ 'a/x': '', 'b/y': '' });
    const filter = await WorkspaceFilter.load({ root });
    const enter = filter.enterDirectory.bind(filter);
    filter.enterDirectory = async (relDir) => {
      if (relDir === 'a') {
        throw localError(
          Object.assign(new Error('EACCES'), { code: 'EACCES' }),
          'a/.gitignore',
          'read',
        );
      }
      return enter(relDir);
    };
    const result = await walk(root, filter);
    assert.deepEqual(relPaths(result.files), ['b/y']);
    assert.deepEqual(
      result.errors.map((e) => [e.relPath, e.reason]),
      [['a', 'unreadable']],
    );
  });

  test('unreadable files are skipped, unreadable directories are errors', async (t) => {
    const root = workspace({ 'ok.txt': '', 'secret.txt': 'x', 'locked/x': '' });
    chmodSync(path.join(root, 'secret.txt'), 0o000);
    chmodSync(path.join(root, 'locked'), 0o000);
    let result: WalkResult;
    if (process.getuid?.() === 0) {
      // root reads everything: walk as nobody in a child process.
      const cannot = unprivilegedSkipReason();
      if (cannot) return t.skip(cannot);
      chmodSync(scratch, 0o755);
      const script = `
        process.setgroups([]); process.setgid(65534); process.setuid(65534);
        const { WorkspaceFilter } = await import(${JSON.stringify(import.meta.resolve('./ignore/workspace-filter.ts'))});
        const { walkWorkspace } = await import(${JSON.stringify(import.meta.resolve('./walk.ts'))});
        const root = ${JSON.stringify(root)};
        const filter = await WorkspaceFilter.load({ root });
        console.log(JSON.stringify(await walkWorkspace({ root, filter })));`;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        encoding: 'utf8',
      });
      assert.equal(child.status, 0, child.stderr);
      result = JSON.parse(child.stdout) as WalkResult;
    } else {
      result = await walk(root);
    }
    assert.deepEqual(relPaths(result.files), ['ok.txt']);
    assert.deepEqual(
      result.skipped.map((s) => [s.relPath, s.reason]),
      [['secret.txt', 'unreadable']],
    );
    assert.deepEqual(
      result.errors.map((e) => [e.relPath, e.reason]),
      [['locked', 'unreadable']],
    );
  });

  test('the root missing or not a directory throws LOCAL_NOT_FOUND', async () => {
    const missing = path.join(scratch, 'does-not-exist');
    const filter = WorkspaceFilter.fromRules({});
    await assert.rejects(walkWorkspace({ root: missing, filter }), (err: unknown) =>
      isBucketspaceError(err, 'LOCAL_NOT_FOUND'),
    );
    const file = path.join(scratch, `file${counter++}`);
    writeFileSync(file, '');
    await assert.rejects(walkWorkspace({ root: file, filter }), (err: unknown) =>
      isBucketspaceError(err, 'LOCAL_NOT_FOUND'),
    );
  });

  test('honours an AbortSignal', async () => {
    const root = workspace({ 'a/b': '' });
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      walkWorkspace({ root, filter: WorkspaceFilter.fromRules({}), signal: controller.signal }),
      (err: unknown) => isBucketspaceError(err, 'ABORTED'),
    );
  });

  test('reports progress and is deterministic across runs', async () => {
    const files: Record<string, string> = {};
    for (let d = 0; d < 30; d++) for (let f = 0; f < 10; f++) files[`d${d}/s/f${f}`] = '';
    const root = workspace(files);
    const progress: number[] = [];
    const filter = await WorkspaceFilter.load({ root });
    const first = await walkWorkspace({ root, filter, onProgress: (n) => progress.push(n) });
    const second = await walk(root);
    assert.equal(first.files.length, 300);
    assert.deepEqual(first, second);
    assert.equal(progress.at(-1), 300);
    assert.ok(progress.length >= 61, 'one report per directory');
  });
});
