import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import fsPromises from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { unprivilegedSkipReason } from '../../../test/support/unprivileged.ts';
import { isBucketspaceError } from '../../common/errors.ts';
import { readIgnoreFile } from '../../common/ignore/workspace-filter.ts';
import { silentLogger } from '../../common/logger.ts';
import type { ScanResult, WorkspaceSnapshot } from '../types.ts';
import { hashFile } from './hash-file.ts';
import {
  MAX_DETECTION_TEXT_BYTES,
  WorkspaceScanner,
  type WorkspaceScannerOptions,
} from './workspace-scanner.ts';

let scratch: string;
let counter = 0;

before(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'bucketspace-scanner-'));
});
after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** A fresh mount root holding the given files (a trailing / makes a directory). */
function mountRoot(files: Record<string, string> = {}): string {
  const root = path.join(scratch, `mount${counter++}`);
  mkdirSync(root);
  write(root, files);
  return root;
}

function write(root: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(root, rel);
    if (rel.endsWith('/')) {
      mkdirSync(abs, { recursive: true });
    } else {
      mkdirSync(path.dirname(abs), { recursive: true });
      writeFileSync(abs, content);
    }
  }
}

/** A scanner whose file reads are recorded (workspace-relative to the root). */
function scannerFor(root: string, options: Partial<WorkspaceScannerOptions> = {}) {
  const reads: string[] = [];
  const scanner = new WorkspaceScanner({
    root,
    logger: silentLogger(),
    readFile: (absPath, readOptions) => {
      reads.push(path.relative(root, absPath));
      return readIgnoreFile(absPath, readOptions);
    },
    ...options,
  });
  return { scanner, reads };
}

async function scanOk(scanner: WorkspaceScanner): Promise<Map<string, WorkspaceSnapshot>> {
  const result = await scanner.scan();
  assert.equal(result.mount, 'ok', JSON.stringify(result));
  return result.mount === 'ok' ? result.workspaces : assert.fail();
}

async function snapshot(scanner: WorkspaceScanner, name = 'shop'): Promise<WorkspaceSnapshot> {
  const ws = (await scanOk(scanner)).get(name);
  assert.ok(ws, `workspace ${name} scanned`);
  return ws;
}

/** Sets a file's mtime (seconds since the epoch). */
function touch(file: string, seconds: number): void {
  utimesSync(file, seconds, seconds);
}

describe('WorkspaceScanner: what is a workspace', () => {
  test('directories directly under the root; hidden entries and files are not', async () => {
    const root = mountRoot({
      'shop/index.html': '<h1>',
      'api-v2/': '',
      '.bucketspace-backup/x/y': '',
      '.Trash-1000/': '',
      'notes.txt': '',
    });
    const target = path.join(scratch, `linked${counter++}`);
    mkdirSync(target);
    writeFileSync(path.join(target, 'main.py'), '');
    symlinkSync(target, path.join(root, 'linked'));
    symlinkSync(path.join(root, 'notes.txt'), path.join(root, 'link-to-file'));
    const { scanner } = scannerFor(root);
    const workspaces = await scanOk(scanner);
    assert.deepEqual([...workspaces.keys()], ['api-v2', 'linked', 'shop']);
    assert.deepEqual([...(workspaces.get('linked')?.probe.files ?? [])], ['main.py']);
  });

  test('a snapshot: dir, counts, newest mtime, probe files and texts', async () => {
    const root = mountRoot({
      'shop/package.json': '{"scripts":{"start":"node s.js"}}',
      'shop/workspace.json': '{"port":4000}',
      'shop/s.js': '',
      'shop/src/deep.js': 'x',
      'shop/src/package.json': '{}',
      'shop/public/index.html': '',
      'shop/public/other.html': '',
      'shop/cmd/api/main.go': '',
      'shop/node_modules/x/index.js': '',
      'shop/.env': 'SECRET=1',
    });
    touch(path.join(root, 'shop/src/deep.js'), 2_000_000_000);
    const { scanner } = scannerFor(root);
    const ws = await snapshot(scanner);
    assert.equal(ws.name, 'shop');
    assert.equal(ws.dir, path.join(root, 'shop'));
    assert.equal(ws.fileCount, 8);
    assert.equal(ws.lastChangeMs, 2_000_000_000_000);
    assert.deepEqual(ws.errors, []);
    assert.match(ws.fingerprint, /^[0-9a-f]{32}$/);
    assert.equal(ws.probe.name, 'shop');
    assert.deepEqual([...ws.probe.files].sort(), [
      'cmd/api/main.go',
      'package.json',
      'public/index.html',
      's.js',
      'workspace.json',
    ]);
    assert.deepEqual(
      new Map(ws.probe.texts),
      new Map([
        ['package.json', '{"scripts":{"start":"node s.js"}}'],
        ['workspace.json', '{"port":4000}'],
      ]),
    );
  });

  test('an empty workspace: no files, and no errors', async () => {
    const root = mountRoot({ 'empty/': '' });
    const ws = await snapshot(scannerFor(root).scanner, 'empty');
    assert.deepEqual(
      [ws.fileCount, ws.lastChangeMs, ws.errors, ws.probe.files.size],
      [0, 0, [], 0],
    );
  });

  test('a name that cannot be served is still scanned (detection reports it)', async () => {
    const root = mountRoot({ 'My_App/app.py': '', 'api/index.html': '' });
    const workspaces = await scanOk(scannerFor(root).scanner);
    assert.deepEqual([...workspaces.keys()], ['My_App', 'api']);
  });
});

describe('WorkspaceScanner: fingerprint', () => {
  test('changes on add, edit, same-size edit with a new mtime, chmod and remove; not on a rescan', async () => {
    const root = mountRoot({ 'shop/a.txt': 'one', 'shop/src/b.txt': 'two' });
    const a = path.join(root, 'shop/a.txt');
    touch(a, 1_700_000_000);
    const { scanner } = scannerFor(root);
    const seen: string[] = [(await snapshot(scanner)).fingerprint];
    const expectChange = async (what: string) => {
      const fingerprint = (await snapshot(scanner)).fingerprint;
      assert.ok(!seen.includes(fingerprint), `fingerprint changes on ${what}`);
      seen.push(fingerprint);
    };
    assert.equal((await snapshot(scanner)).fingerprint, seen[0], 'unchanged on a rescan');

    write(root, { 'shop/src/c.txt': '' });
    await expectChange('add');
    writeFileSync(a, 'three');
    touch(a, 1_700_000_000);
    await expectChange('an edit that changes the size');
    writeFileSync(a, 'THREE');
    touch(a, 1_700_000_001);
    await expectChange('a same-size edit with a new mtime');
    chmodSync(a, 0o755);
    await expectChange('chmod +x');
    unlinkSync(path.join(root, 'shop/src/c.txt'));
    await expectChange('remove');
    renameSync(path.join(root, 'shop/src/b.txt'), path.join(root, 'shop/src/d.txt'));
    await expectChange('rename');
    assert.equal((await snapshot(scanner)).fingerprint, seen.at(-1), 'unchanged on a rescan');
  });

  test('ignored files do not count: node_modules, .env, logs, .git', async () => {
    const root = mountRoot({ 'shop/app.py': '' });
    const { scanner } = scannerFor(root);
    const before = await snapshot(scanner);
    write(root, {
      'shop/node_modules/x.js': '',
      'shop/.env': '',
      'shop/debug.log': '',
      'shop/.git/HEAD': '',
      'shop/__pycache__/a.pyc': '',
    });
    const afterIgnored = await snapshot(scanner);
    assert.equal(afterIgnored.fingerprint, before.fingerprint);
    assert.equal(afterIgnored.fileCount, 1);
  });

  test('never opens node_modules (2,000 files) or other ignored trees', async () => {
    const root = mountRoot({ 'shop/src/index.js': '', 'shop/.gitignore': 'generated/\n' });
    const modules = path.join(root, 'shop/node_modules/pkg');
    mkdirSync(modules, { recursive: true });
    for (let i = 0; i < 2000; i++) writeFileSync(path.join(modules, `f${i}.js`), '');
    write(root, { 'shop/generated/a/b.js': '' });
    const { scanner } = scannerFor(root);
    const opened: string[] = [];
    const { readdir } = fsPromises;
    fsPromises.readdir = ((dir: string, options: never) => {
      opened.push(path.relative(root, String(dir)));
      return readdir(dir, options);
    }) as typeof readdir;
    syncBuiltinESMExports();
    let ws: WorkspaceSnapshot;
    try {
      ws = await snapshot(scanner);
    } finally {
      fsPromises.readdir = readdir;
      syncBuiltinESMExports();
    }
    assert.deepEqual(opened.sort(), ['', 'shop', 'shop/src']);
    assert.equal(ws.fileCount, 2);
  });

  test('a .gitignore edit changes what is fingerprinted', async () => {
    const root = mountRoot({
      'shop/.gitignore': '',
      'shop/a.tmp': '',
      'shop/sub/.gitignore': '',
      'shop/sub/b.tmp': '',
      'shop/keep.txt': '',
    });
    const { scanner, reads } = scannerFor(root);
    const first = await snapshot(scanner);
    assert.equal(first.fileCount, 5);
    writeFileSync(path.join(root, 'shop/.gitignore'), '*.tmp\n');
    reads.length = 0;
    const second = await snapshot(scanner);
    assert.deepEqual(reads, ['shop/.gitignore']);
    assert.equal(second.fileCount, 3);
    assert.notEqual(second.fingerprint, first.fingerprint);
    writeFileSync(path.join(root, 'shop/sub/.gitignore'), '!b.tmp\n');
    reads.length = 0;
    const third = await snapshot(scanner);
    assert.deepEqual(reads, ['shop/sub/.gitignore']);
    assert.equal(third.fileCount, 4);
  });

  test('SYNC_EXCLUDE patterns (extraExcludes) apply as in the sync', async () => {
    const root = mountRoot({ 'shop/a.txt': '', 'shop/big.bin': '' });
    const ws = await snapshot(scannerFor(root, { extraExcludes: ['*.bin'] }).scanner);
    assert.equal(ws.fileCount, 1);
  });
});

describe('WorkspaceScanner: reads only what changed', () => {
  const files = {
    'shop/.gitignore': '*.tmp\n',
    'shop/.dockerignore': 'tests\n',
    'shop/.syncignore': 'scratch/\n',
    'shop/sub/.gitignore': 'x\n',
    'shop/package.json': '{"main":"a.js"}',
    'shop/workspace.json': '{"port":1}',
    'shop/pyproject.toml': '[project]\n',
    'shop/a.js': '',
    'web/index.html': '',
  };

  test('an unchanged rescan reads no file at all', async () => {
    const root = mountRoot(files);
    const { scanner, reads } = scannerFor(root);
    await scanOk(scanner);
    assert.deepEqual(reads.sort(), [
      'shop/.dockerignore',
      'shop/.gitignore',
      'shop/.syncignore',
      'shop/package.json',
      'shop/pyproject.toml',
      'shop/sub/.gitignore',
      'shop/workspace.json',
    ]);
    reads.length = 0;
    const again = await scanOk(scanner);
    assert.deepEqual(reads, []);
    assert.equal(again.get('shop')?.probe.texts.get('package.json'), '{"main":"a.js"}');
  });

  test('detection texts are read again only when their stat changed', async () => {
    const root = mountRoot(files);
    const pkg = path.join(root, 'shop/package.json');
    touch(pkg, 1_700_000_000);
    const { scanner, reads } = scannerFor(root);
    await scanOk(scanner);
    writeFileSync(pkg, '{"main":"b.js"}');
    touch(pkg, 1_700_000_001);
    reads.length = 0;
    const ws = await snapshot(scanner);
    assert.deepEqual(reads, ['shop/package.json']);
    assert.equal(ws.probe.texts.get('package.json'), '{"main":"b.js"}');
    unlinkSync(path.join(root, 'shop/workspace.json'));
    reads.length = 0;
    const removed = await snapshot(scanner);
    assert.deepEqual(reads, []);
    assert.equal(removed.probe.texts.has('workspace.json'), false);
    assert.equal(removed.probe.files.has('workspace.json'), false);
  });

  test('the snapshot lists every fingerprinted file with its size and mtime', async () => {
    const root = mountRoot({
      'shop/package.json': '{}',
      'shop/src/a.js': 'abc',
      'shop/node_modules/x/i.js': '',
    });
    touch(path.join(root, 'shop/src/a.js'), 1_700_000_000);
    const ws = await snapshot(scannerFor(root).scanner);
    assert.deepEqual(
      ws.files.map((f) => f.relPath),
      ['package.json', 'src/a.js'],
    );
    assert.deepEqual(ws.files[1], { relPath: 'src/a.js', size: 3, mtimeMs: 1_700_000_000_000 });
  });

  test('dependency files are hashed, and hashed again only when their stat changed', async () => {
    const root = mountRoot({
      'shop/package.json': '{}',
      'shop/package-lock.json': '{"lockfileVersion":3}',
      'shop/go.sum': 'x',
      'shop/sub/package-lock.json': '{}',
    });
    const lock = path.join(root, 'shop/package-lock.json');
    touch(lock, 1_700_000_000);
    const hashed: string[] = [];
    const { scanner } = scannerFor(root, {
      hashFile: (absPath, options) => {
        hashed.push(path.relative(root, absPath));
        return hashFile(absPath, options);
      },
    });
    const first = await snapshot(scanner);
    assert.deepEqual(hashed.sort(), ['shop/go.sum', 'shop/package-lock.json']);
    assert.equal(
      first.hashes.get('package-lock.json'),
      createHash('sha256').update('{"lockfileVersion":3}').digest('hex'),
    );
    hashed.length = 0;
    await snapshot(scanner);
    assert.deepEqual(hashed, []);
    writeFileSync(lock, '{"lockfileVersion":2}');
    touch(lock, 1_700_000_001);
    const changed = await snapshot(scanner);
    assert.deepEqual(hashed, ['shop/package-lock.json']);
    assert.notEqual(changed.hashes.get('package-lock.json'), first.hashes.get('package-lock.json'));
  });

  test('an ignored detection file is neither listed nor read', async () => {
    const root = mountRoot({ 'shop/.syncignore': 'workspace.json\n', 'shop/workspace.json': '{' });
    const { scanner, reads } = scannerFor(root);
    const ws = await snapshot(scanner);
    assert.deepEqual(reads, ['shop/.syncignore']);
    assert.equal(ws.probe.files.has('workspace.json'), false);
  });

  test('a detection file too big to read is an error, not read', async () => {
    const root = mountRoot({ 'shop/package.json': ' '.repeat(MAX_DETECTION_TEXT_BYTES + 1) });
    const { scanner, reads } = scannerFor(root);
    const ws = await snapshot(scanner);
    assert.deepEqual(reads, []);
    assert.equal(ws.probe.files.has('package.json'), true);
    assert.equal(ws.probe.texts.has('package.json'), false);
    assert.deepEqual(ws.errors, [
      `package.json: ${MAX_DETECTION_TEXT_BYTES + 1} bytes, too big to read for detection (at most ${MAX_DETECTION_TEXT_BYTES})`,
    ]);
  });
});

describe('WorkspaceScanner: errors', () => {
  test('a workspace that cannot be walked keeps its last snapshot, with the error', async () => {
    const root = mountRoot({ 'shop/app.py': '', 'web/index.html': '' });
    const { scanner } = scannerFor(root);
    const good = await snapshot(scanner);
    // ENAMETOOLONG when followed: an error that is not "missing", even for root.
    symlinkSync(path.join(scratch, 'n'.repeat(300)), path.join(root, 'shop/.dockerignore'));
    const result = await scanOk(scanner);
    const failed = result.get('shop');
    assert.deepEqual({ ...failed, errors: [] }, { ...good, errors: [] });
    assert.equal(failed?.errors.length, 1);
    assert.match(
      failed?.errors[0] ?? '',
      /^cannot scan the workspace: read ignore file .*ENAMETOOLONG/,
    );
    assert.deepEqual(result.get('web')?.errors, []);
  });

  test('one that never scanned: an empty snapshot with the error, told apart by errors', async () => {
    const root = mountRoot({ 'shop/app.py': '' });
    symlinkSync(path.join(scratch, 'n'.repeat(300)), path.join(root, 'shop/.syncignore'));
    const ws = await snapshot(scannerFor(root).scanner);
    assert.deepEqual([ws.fileCount, ws.probe.files.size, ws.errors.length], [0, 0, 1]);
  });

  test('a workspace removed during or between scans is gone from the result', async () => {
    const root = mountRoot({ 'shop/app.py': '', 'web/index.html': '' });
    const { scanner } = scannerFor(root);
    await scanOk(scanner);
    rmSync(path.join(root, 'web'), { recursive: true });
    assert.deepEqual([...(await scanOk(scanner)).keys()], ['shop']);
  });

  test('unreadable directories, files and roots, as an unprivileged user', (t) => {
    const root = mountRoot({
      'shop/app.py': '',
      'shop/locked/x.py': '',
      'shop/secret.txt': '',
      'closed/index.html': '',
    });
    chmodSync(path.join(root, 'shop/locked'), 0o000);
    chmodSync(path.join(root, 'shop/secret.txt'), 0o000);
    chmodSync(path.join(root, 'closed'), 0o000);
    const lockedRoot = mountRoot({ 'a/index.html': '' });
    chmodSync(lockedRoot, 0o000);
    type Seen = { mount: string; reason?: string; workspaces?: [string, string[]][] };
    const scanAs = (dir: string): Seen => {
      const script = `
        ${process.getuid?.() === 0 ? 'process.setgroups([]); process.setgid(65534); process.setuid(65534);' : ''}
        const { WorkspaceScanner } = await import(${JSON.stringify(import.meta.resolve('./workspace-scanner.ts'))});
        const { silentLogger } = await import(${JSON.stringify(import.meta.resolve('../../common/logger.ts'))});
        const result = await new WorkspaceScanner({ root: ${JSON.stringify(dir)}, logger: silentLogger() }).scan();
        console.log(JSON.stringify(result.mount === 'ok'
          ? { mount: 'ok', workspaces: [...result.workspaces].map(([n, w]) => [n, w.errors]) }
          : result));`;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        encoding: 'utf8',
      });
      assert.equal(child.status, 0, child.stderr);
      return JSON.parse(child.stdout) as Seen;
    };
    if (process.getuid?.() === 0) {
      const cannot = unprivilegedSkipReason();
      if (cannot) return t.skip(cannot);
      chmodSync(scratch, 0o755);
    }
    // A directory that cannot be entered fails at its .gitignore, the first thing read in it.
    assert.deepEqual(scanAs(root), {
      mount: 'ok',
      workspaces: [
        [
          'closed',
          [
            `cannot scan the workspace: read ignore file ${path.join(root, 'closed/.gitignore')}: EACCES`,
          ],
        ],
        [
          'shop',
          [
            `locked: read ignore file ${path.join(root, 'shop/locked/.gitignore')}: EACCES`,
            'secret.txt: permission denied',
          ],
        ],
      ],
    });
    assert.deepEqual(scanAs(lockedRoot), {
      mount: 'unavailable',
      reason: `${lockedRoot}: permission denied (EACCES) — the monitor may not read the mount; mount with --allow-other (rclone) or -o allow_other (s3fs), or run the monitor as the mount owner`,
    });
  });
});

describe('WorkspaceScanner: mount unavailable', () => {
  test('a missing root', async () => {
    const root = path.join(scratch, 'no-such-mount');
    assert.deepEqual(await scannerFor(root).scanner.scan(), {
      mount: 'unavailable',
      reason: `${root}: does not exist (ENOENT) — mount the bucket there, or set WORKSPACES_MOUNT to where it is mounted`,
    });
  });

  test('a root that is a file', async () => {
    const root = path.join(scratch, `file${counter++}`);
    writeFileSync(root, '');
    assert.deepEqual(await scannerFor(root).scanner.scan(), {
      mount: 'unavailable',
      reason: `${root}: not a directory — set WORKSPACES_MOUNT to the directory the bucket is mounted at`,
    });
  });

  test('expectMountPoint: a plain directory is not a mounted bucket', async () => {
    const root = mountRoot({ 'shop/app.py': '' });
    const result: ScanResult = await scannerFor(root, { expectMountPoint: true }).scanner.scan();
    assert.deepEqual(result, {
      mount: 'unavailable',
      reason: `${root}: not a mount point (same filesystem as ${scratch}) — the bucket is not mounted there; start the mount`,
    });
    // /proc is a mount point of its own.
    const proc = await new WorkspaceScanner({
      root: '/proc',
      logger: silentLogger(),
      expectMountPoint: true,
    }).scan();
    assert.equal(proc.mount, 'ok');
  });
});

describe('WorkspaceScanner: control', () => {
  test('an aborted scan rejects with ABORTED', async () => {
    const root = mountRoot({ 'shop/app.py': '' });
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(scannerFor(root).scanner.scan({ signal: controller.signal }), (err) =>
      isBucketspaceError(err, 'ABORTED'),
    );
  });

  test('concurrent calls run one after the other and agree', async () => {
    const root = mountRoot({ 'a/app.py': '', 'b/index.html': '', 'c/package.json': '{}' });
    const { scanner, reads } = scannerFor(root, { concurrency: 2 });
    const [one, two] = await Promise.all([scanOk(scanner), scanOk(scanner)]);
    assert.deepEqual(one, two);
    // Run together, both would have missed the cache and read package.json.
    assert.deepEqual(reads, ['c/package.json']);
  });

  test('logs at debug what it skipped and why', async () => {
    const root = mountRoot({
      'shop/app.py': '',
      'shop/node_modules/x.js': '',
      '.bucketspace-backup/': '',
      'README.md': '',
    });
    symlinkSync('/etc/hostname', path.join(root, 'shop/outside'));
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const scanner = new WorkspaceScanner({ root, logger: pino({ level: 'debug' }, sink) });
    await scanner.scan();
    const messages = lines.map((l) => `${String(l.msg)} ${(l.entry ?? l.path ?? '') as string}`);
    assert.ok(
      messages.includes('not a workspace: hidden entries are not workspaces .bucketspace-backup'),
    );
    assert.ok(messages.includes('not a workspace: not a directory README.md'));
    assert.ok(messages.includes('skipped file outside'));
    const ignored = lines.find(
      (l) => l.msg === 'ignored paths (ignored directories were not walked)',
    );
    assert.deepEqual(ignored?.ignored, [
      { path: 'node_modules/', rule: '<defaults>:1 node_modules/' },
    ]);
  });
});
