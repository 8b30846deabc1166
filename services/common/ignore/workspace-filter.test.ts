import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isBucketspaceError } from '../errors.ts';
import { DEFAULT_EXCLUDES } from './default-excludes.ts';
import { WorkspaceFilter, explainPath, type WorkspaceRules } from './workspace-filter.ts';

/** `a/b/` is the directory a/b, `a/b` the file. */
function isIgnored(filter: WorkspaceFilter, p: string): boolean {
  return p.endsWith('/') ? filter.isIgnored(p.slice(0, -1), true) : filter.isIgnored(p, false);
}

/** Asserts which of the paths are ignored; all their parents are assumed included. */
function expectIgnored(
  rules: WorkspaceRules,
  expected: { ignored?: string[]; included?: string[] },
): void {
  const filter = WorkspaceFilter.fromRules({ defaults: [], ...rules });
  for (const p of expected.ignored ?? []) assert.equal(isIgnored(filter, p), true, `${p} ignored`);
  for (const p of expected.included ?? []) {
    assert.equal(isIgnored(filter, p), false, `${p} included`);
  }
}

describe('WorkspaceFilter: defaults', () => {
  const filter = WorkspaceFilter.fromRules({});

  test('excludes the default patterns', () => {
    for (const p of [
      'node_modules/',
      'a/node_modules/',
      '.git/',
      'x.log',
      'a/b.log',
      '.env',
      '.env.local',
      'dist/',
      'build/',
      '__pycache__/',
      'vendor/',
      'm.pyc',
      '.DS_Store',
      'Thumbs.db',
      '._foo',
    ]) {
      assert.equal(isIgnored(filter, p), true, p);
    }
  });

  test("editors' working files: Vim's swap files and backups, Emacs' locks and auto-saves", () => {
    for (const p of [
      'src/.index.js.swp',
      '.server.py.swo',
      'a/.x.swa',
      'index.js~',
      'src/.#index.js',
      'src/#index.js#',
    ]) {
      assert.equal(isIgnored(filter, p), true, p);
    }
    // Only those shapes: a project's own files of similar names stay.
    for (const p of ['a.swp', '.x.swq', 'x.sw', '~a', '#hash', 'a#b#', 'issue#1.md']) {
      assert.equal(isIgnored(filter, p), false, p);
    }
  });

  test('directory-only defaults do not exclude files of that name', () => {
    for (const p of ['node_modules', 'dist', 'build', 'vendor', 'src/', 'a.ts', 'logs/']) {
      assert.equal(isIgnored(filter, p), false, p);
    }
  });

  test('report their source and line', () => {
    assert.deepEqual(filter.decide('a/b.log', false), {
      ignored: true,
      rule: { source: '<defaults>', line: 3, pattern: '*.log', negative: false },
    });
    assert.equal(DEFAULT_EXCLUDES[2], '*.log');
  });

  test('extraExcludes come after the defaults and may negate them', () => {
    const f = WorkspaceFilter.fromRules({ extraExcludes: ['*.tmp', '!keep.log'] });
    assert.equal(f.isIgnored('x.tmp', false), true);
    assert.deepEqual(f.decide('keep.log', false), {
      ignored: false,
      rule: { source: '<settings>', line: 2, pattern: '!keep.log', negative: true },
    });
  });

  test('a .gitignore re-includes a default: !.env.example', () => {
    const f = WorkspaceFilter.fromRules({ gitignores: { '': '!.env.example\n' } });
    assert.equal(f.isIgnored('.env', false), true);
    assert.equal(f.isIgnored('.env.example', false), false);
    assert.equal(f.isIgnored('sub/.env.example', false), false);
  });
});

describe('WorkspaceFilter: gitignore semantics', () => {
  test('nested files: patterns are relative to their directory', () => {
    expectIgnored(
      { gitignores: { '': 'root-only\n', sub: 'foo\n/bar\nx/y\n', 'sub/deep': '*.tmp\n' } },
      {
        ignored: ['root-only', 'a/root-only', 'sub/foo', 'sub/a/b/foo', 'sub/bar', 'sub/x/y'],
        included: [
          'foo',
          'other/foo',
          'bar',
          'sub/a/bar',
          'sub/a/x/y',
          'x/y',
          'a.tmp',
          'sub/a.tmp',
        ],
      },
    );
    expectIgnored({ gitignores: { 'sub/deep': '*.tmp\n' } }, { ignored: ['sub/deep/a/b.tmp'] });
  });

  test('negation: the last matching rule wins, deeper files beat shallower', () => {
    expectIgnored(
      { gitignores: { '': '*.tmp\n!keep.tmp\n', sub: '!*.tmp\nkeep.tmp\n' } },
      { ignored: ['a.tmp', 'sub/keep.tmp', 'sub/x/keep.tmp'], included: ['keep.tmp', 'sub/a.tmp'] },
    );
  });

  test('directory-only patterns match directories only', () => {
    expectIgnored(
      { gitignores: { '': 'foo/\n' } },
      { ignored: ['foo/', 'a/foo/'], included: ['foo', 'a/foo', 'foo.txt'] },
    );
  });

  test('anchored patterns: leading slash or a slash in the middle', () => {
    expectIgnored(
      { gitignores: { '': '/top\na/b\n' } },
      { ignored: ['top', 'top/', 'a/b', 'a/b/'], included: ['x/top', 'x/a/b', 'a/x/b'] },
    );
  });

  test('** forms', () => {
    expectIgnored(
      { gitignores: { '': '**/foo\nbar/**\na/**/b\n' } },
      {
        ignored: ['foo', 'x/y/foo/', 'bar/x', 'bar/x/y/', 'a/b', 'a/x/b', 'a/x/y/b'],
        included: ['bar/', 'x/bar/z', 'a/bb', 'x/a/b'],
      },
    );
  });

  test('? and character classes, never matching a slash', () => {
    expectIgnored(
      { gitignores: { '': 'a?c\n[xy]1\n[!a]2\n[a-c]3\n[[:digit:]]4\nq[/]r\n' } },
      {
        ignored: ['abc', 'x1', 'y1', 'b2', 'c3', '94'],
        included: ['ac', 'a/c', 'z1', 'a2', 'd3', 'x4', 'q/r'],
      },
    );
  });

  test('escapes: \\#, \\!, \\*, trailing spaces and \\ ', () => {
    expectIgnored(
      { gitignores: { '': '\\#hash\n\\!bang\nst\\*r\ntrailing   \nspace\\ \n#comment\n' } },
      {
        ignored: ['#hash', '!bang', 'st*r', 'trailing', 'space '],
        included: ['hash', 'bang', 'star', 'trailing ', 'space', '#comment', 'comment'],
      },
    );
  });

  test('CRLF files and a UTF-8 BOM', () => {
    expectIgnored(
      { gitignores: { '': '\uFEFFfirst\r\nsecond\r\n' } },
      { ignored: ['first', 'second'], included: ['first\r', '\uFEFFfirst'] },
    );
  });

  test('a .gitignore holding * excludes everything, itself included', () => {
    const f = WorkspaceFilter.fromRules({ defaults: [], gitignores: { '': '*\n' } });
    for (const p of ['.gitignore', 'a', 'src/', '.hidden']) assert.equal(isIgnored(f, p), true, p);
  });

  test('whitelisting: * then !*/ then !*.ts', () => {
    expectIgnored(
      { gitignores: { '': '*\n!*/\n!*.ts\n' } },
      { ignored: ['a.js', 'src/a.js', '.gitignore'], included: ['src/', 'a.ts', 'src/b.ts'] },
    );
  });

  test('directory names holding glob characters are matched literally', () => {
    expectIgnored(
      { gitignores: { 'x[1]': 'a\n', 'st*r': '/b\n', 'q?': 'c\n', 'back\\slash': 'd\n' } },
      {
        ignored: ['x[1]/a', 'st*r/b', 'q?/c', 'back\\slash/d'],
        included: ['x1/a', 'stxr/b', 'qq/c', 'backslash/d'],
      },
    );
  });

  test('matching is case-sensitive, like git on Linux', () => {
    expectIgnored(
      { gitignores: { '': 'README.md\n*.LOG\n' } },
      { ignored: ['README.md', 'a.LOG'], included: ['readme.md', 'Readme.md', 'a.log'] },
    );
  });

  test('matches UTF-8 bytes as git does: ? is one byte', () => {
    expectIgnored(
      { gitignores: { '': 'caf?\nna??ve\n' } },
      { ignored: ['cafe', 'naïve'], included: ['café'] },
    );
  });

  test('git quirk: a ** right after a literal head is a globstar', () => {
    expectIgnored(
      { gitignores: { '': 'a**/b\n' } },
      { ignored: ['ab', 'a/b', 'ax/y/b'], included: ['axb', 'q/ab', 'b'] },
    );
  });

  test('addGitignore out of order keeps ancestors first', () => {
    const f = WorkspaceFilter.fromRules({ defaults: [] });
    f.addGitignore('a/b', '!keep.tmp\n');
    f.addGitignore('a', '*.tmp\n');
    assert.equal(f.isIgnored('a/x.tmp', false), true);
    assert.equal(f.isIgnored('a/b/keep.tmp', false), false);
    assert.equal(
      f
        .rules()
        .map((r) => r.source)
        .join(),
      'a/.gitignore,a/b/.gitignore',
    );
  });

  test('addGitignore replaces the content of a directory', () => {
    const f = WorkspaceFilter.fromRules({ defaults: [], gitignores: { sub: 'a\n' } });
    assert.equal(f.isIgnored('sub/a', false), true);
    f.addGitignore('sub/', 'b\n');
    assert.equal(f.isIgnored('sub/a', false), false);
    assert.equal(f.isIgnored('sub/b', false), true);
  });
});

describe('WorkspaceFilter: .dockerignore and .syncignore', () => {
  test('.dockerignore patterns are anchored at the root', () => {
    expectIgnored(
      { dockerignore: 'foo\n./bar\n**/*.tmp\nsecrets/\n!secrets/public\n# x\n' },
      {
        ignored: ['foo', 'foo/', 'bar', 'a/b.tmp', 'c.tmp', 'secrets/', 'secrets'],
        included: ['sub/foo', 'sub/bar', 'x'],
      },
    );
    const f = WorkspaceFilter.fromRules({
      defaults: [],
      dockerignore: 'secrets/*\n!secrets/public\n',
    });
    assert.equal(f.isIgnored('secrets/public', false), false);
    assert.equal(f.isIgnored('secrets/private', false), true);
  });

  test('.dockerignore beats .gitignore, .syncignore beats both', () => {
    expectIgnored(
      {
        gitignores: { '': 'a\nb\nc\n' },
        dockerignore: '!a\n!b\n',
        syncignore: 'b\n',
      },
      { ignored: ['b', 'c'], included: ['a'] },
    );
  });

  test('.syncignore re-includes a default directory and its contents', () => {
    const f = WorkspaceFilter.fromRules({ syncignore: '!dist/\n!build/\n' });
    assert.equal(f.isIgnored('dist', true), false);
    assert.equal(f.isIgnored('dist/a.js', false), false);
    assert.equal(f.isIgnored('build/out.js', false), false);
    assert.equal(f.isIgnored('node_modules', true), true);
    assert.deepEqual(f.decide('dist', true).rule, {
      source: '.syncignore',
      line: 1,
      pattern: '!dist/',
      negative: true,
    });
  });

  test('isIgnoreFile', () => {
    const f = WorkspaceFilter.fromRules({});
    for (const p of ['.gitignore', 'a/b/.gitignore', '.dockerignore', '.syncignore']) {
      assert.equal(f.isIgnoreFile(p), true, p);
    }
    for (const p of ['a/.dockerignore', 'a/.syncignore', 'x.gitignore', '.gitignore.bak']) {
      assert.equal(f.isIgnoreFile(p), false, p);
    }
  });
});

describe('decide and explainPath', () => {
  const filter = WorkspaceFilter.fromRules({
    gitignores: { '': '!.env.example\n*.tmp\n', sub: '!keep.tmp\n' },
  });

  test('decide reports the last rule matching the path itself', () => {
    assert.deepEqual(filter.decide('sub/keep.tmp', false), {
      ignored: false,
      rule: { source: 'sub/.gitignore', line: 1, pattern: '!keep.tmp', negative: true },
    });
    assert.deepEqual(filter.decide('a.tmp', false).rule?.source, '.gitignore');
    assert.deepEqual(filter.decide('src/a.ts', false), { ignored: false });
    assert.deepEqual(filter.decide('src', true), { ignored: false });
  });

  test('explainPath names the first excluded ancestor', () => {
    assert.deepEqual(explainPath(filter, 'node_modules/pkg/keep.tmp', false), {
      ignored: true,
      rule: { source: '<defaults>', line: 1, pattern: 'node_modules/', negative: false },
      excludedAncestor: 'node_modules',
    });
    assert.deepEqual(explainPath(filter, 'x/.env.example', false), {
      ignored: false,
      rule: { source: '.gitignore', line: 1, pattern: '!.env.example', negative: true },
    });
    assert.deepEqual(explainPath(filter, 'x/y.ts', false), { ignored: false });
    assert.equal(filter.isIgnored('node_modules/pkg/a.ts', false), true);
  });
});

describe('WorkspaceFilter.load and enterDirectory (real files)', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'bucketspace-filter-'));
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
  });

  test('reads the root files, then nested .gitignore files on entering', async () => {
    const ws = path.join(root, 'ws1');
    mkdirSync(path.join(ws, 'sub'), { recursive: true });
    writeFileSync(path.join(ws, '.gitignore'), 'a\n');
    writeFileSync(path.join(ws, '.dockerignore'), 'b\n');
    writeFileSync(path.join(ws, '.syncignore'), 'c\n');
    writeFileSync(path.join(ws, 'sub', '.gitignore'), 'd\n');
    const f = await WorkspaceFilter.load({ root: ws, extraExcludes: ['e'] });
    for (const p of ['a', 'b', 'c', 'e']) assert.equal(f.isIgnored(p, false), true, p);
    assert.equal(f.isIgnored('sub/d', false), false);
    await f.enterDirectory('sub');
    await f.enterDirectory('sub');
    assert.equal(f.isIgnored('sub/d', false), true);
    assert.equal(f.rules().filter((r) => r.source === 'sub/.gitignore').length, 1);
    await f.enterDirectory('missing/dir');
  });

  test('missing files are fine; a symlinked or directory .gitignore is not read', async () => {
    const ws = path.join(root, 'ws2');
    mkdirSync(path.join(ws, 'sub', '.gitignore'), { recursive: true });
    writeFileSync(path.join(root, 'outside-rules'), 'x\n');
    symlinkSync(path.join(root, 'outside-rules'), path.join(ws, '.gitignore'));
    const f = await WorkspaceFilter.load({ root: ws });
    await f.enterDirectory('sub');
    assert.equal(f.isIgnored('x', false), false);
    assert.deepEqual(
      f.rules().map((r) => r.source),
      DEFAULT_EXCLUDES.map(() => '<defaults>'),
    );
  });

  test('readFile replaces the reader for root and nested ignore files', async () => {
    const ws = path.join(root, 'ws4');
    mkdirSync(path.join(ws, 'sub'), { recursive: true });
    writeFileSync(path.join(ws, '.gitignore'), 'from-disk\n');
    const asked: [string, boolean][] = [];
    const f = await WorkspaceFilter.load({
      root: ws,
      readFile: (absPath, options) => {
        const rel = path.relative(ws, absPath);
        asked.push([rel, options.followSymlink]);
        return Promise.resolve(rel === '.syncignore' ? undefined : `${path.dirname(rel)}-rule\n`);
      },
    });
    await f.enterDirectory('sub');
    assert.deepEqual(asked.sort(), [
      ['.dockerignore', true],
      ['.gitignore', false],
      ['.syncignore', true],
      ['sub/.gitignore', false],
    ]);
    assert.equal(f.isIgnored('from-disk', false), false);
    assert.equal(f.isIgnored('.-rule', false), true);
    assert.equal(f.isIgnored('sub/sub-rule', false), true);
  });

  test('an ignore file that cannot be read throws LOCAL_UNREADABLE', async () => {
    const ws = path.join(root, 'ws3');
    mkdirSync(ws);
    // ENAMETOOLONG when opened: an error that is not "missing", even for root.
    symlinkSync(path.join(root, 'n'.repeat(300)), path.join(ws, '.syncignore'));
    await assert.rejects(WorkspaceFilter.load({ root: ws }), (err: unknown) =>
      isBucketspaceError(err, 'LOCAL_UNREADABLE'),
    );
  });
});
