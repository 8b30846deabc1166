/**
 * THE PROOF that WorkspaceFilter + walkWorkspace select exactly the files git
 * selects: seeded random trees with random nested .gitignore files, compared
 * with `git ls-files -o --exclude-standard` on the same tree. The defaults go
 * into the repository's info/exclude, which is their place in our layering
 * (lowest precedence). Reproduce a failure with ORACLE_SEED=<seed>; explore
 * further with ORACLE_RUNS=<n> ORACLE_SEED=<first seed>.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_EXCLUDES } from '../services/common/ignore/default-excludes.ts';
import { WorkspaceFilter, explainPath } from '../services/common/ignore/workspace-filter.ts';
import { walkWorkspace } from '../services/common/walk.ts';

const RUNS = Number(process.env.ORACLE_RUNS ?? 500);
const FIRST_SEED = Number(process.env.ORACLE_SEED ?? 1);
const SINGLE_SEED = process.env.ORACLE_SEED !== undefined && process.env.ORACLE_RUNS === undefined;

/** A tree to compare: files (empty content) and .gitignore contents by directory. */
interface TreeSpec {
  files: string[];
  gitignores: Record<string, string>;
}

let scratch: string;
let gitDir: string;

before(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'bucketspace-oracle-'));
  const repo = path.join(scratch, 'repo');
  mkdirSync(repo);
  runGit(['init', '-q', repo], scratch);
  gitDir = path.join(repo, '.git');
  mkdirSync(path.join(gitDir, 'info'), { recursive: true });
  writeFileSync(path.join(gitDir, 'info', 'exclude'), DEFAULT_EXCLUDES.join('\n') + '\n');
});

after(() => {
  rmSync(scratch, { recursive: true, force: true });
});

function runGit(args: string[], cwd: string): string {
  const result = spawnSync(
    'git',
    [
      '-c',
      'core.excludesFile=/dev/null',
      '-c',
      'core.ignorecase=false',
      '-c',
      'core.quotePath=false',
      ...args,
    ],
    {
      cwd,
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
        HOME: scratch,
      },
    },
  );
  if (result.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

function writeTree(dir: string, spec: TreeSpec): void {
  mkdirSync(dir, { recursive: true });
  for (const file of spec.files) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), '');
  }
  for (const [relDir, content] of Object.entries(spec.gitignores)) {
    mkdirSync(path.join(dir, relDir), { recursive: true });
    writeFileSync(path.join(dir, relDir, '.gitignore'), content);
  }
}

async function compare(
  label: string,
  spec: TreeSpec,
): Promise<{ ok: true } | { ok: false; message: string }> {
  const tree = mkdtempSync(path.join(scratch, 'tree-'));
  try {
    writeTree(tree, spec);
    // The git dir lives outside the tree: git's own `.git` is special to git,
    // not a matter of ignore rules.
    const expected = runGit(
      [`--git-dir=${gitDir}`, `--work-tree=${tree}`, 'ls-files', '-o', '--exclude-standard', '-z'],
      tree,
    )
      .split('\0')
      .filter((p) => p !== '')
      .sort();
    const filter = await WorkspaceFilter.load({ root: tree });
    const walked = await walkWorkspace({ root: tree, filter });
    const actual = walked.files.map((f) => f.relPath);
    const expectedSet = new Set(expected);
    const actualSet = new Set(actual);
    const onlyGit = expected.filter((p) => !actualSet.has(p));
    const onlyOurs = actual.filter((p) => !expectedSet.has(p));
    if (onlyGit.length === 0 && onlyOurs.length === 0 && walked.errors.length === 0) {
      return { ok: true };
    }
    const explain = (p: string): string =>
      `    ${JSON.stringify(p)}: ${JSON.stringify(explainPath(filter, p, false))}`;
    const rules = Object.entries(spec.gitignores)
      .map(([d, c]) => `  ${d === '' ? '' : d + '/'}.gitignore:\n${indent(c)}`)
      .join('\n');
    return {
      ok: false,
      message: [
        `${label}: walk differs from git`,
        rules,
        `  files: ${JSON.stringify(spec.files)}`,
        `  listed by git only (${onlyGit.length}):`,
        ...onlyGit.map(explain),
        `  walked by us only (${onlyOurs.length}):`,
        ...onlyOurs.map(explain),
        `  walk errors: ${JSON.stringify(walked.errors)}`,
      ].join('\n'),
    };
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}

const VISIBLE: Record<string, string> = { '\r': '<CR>', '\t': '<TAB>', '\uFEFF': '<BOM>' };

/** One rule per line between guillemets, so that trailing spaces show. */
function indent(content: string): string {
  return content
    .split('\n')
    .map((line) => `      «${line.replace(/[\r\t\uFEFF]/g, (c) => VISIBLE[c] ?? c)}»`)
    .join('\n');
}

// ---------------------------------------------------------------------------
// Random trees

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = [
  'a',
  'b',
  'c',
  'x',
  'ab',
  'abc',
  'ba',
  'aab',
  'a1',
  '1',
  'a.log',
  'b.txt',
  'x.pyc',
  'c.md',
  'x.c',
  'y.h',
  'foo',
  'foo.bar',
  '.env',
  '.env.example',
  '.env.local',
  '.hidden',
  '..dots',
  'build',
  'dist',
  'node_modules',
  'vendor',
  '__pycache__',
  'src',
  'lib',
  'tmp',
  '.DS_Store',
  'Thumbs.db',
  '._meta',
  '.index.js.swp',
  '.a.swo',
  '.a.swz',
  'a.swp',
  'index.js~',
  '~',
  '.#index.js',
  '#index.js#',
  '#a',
  'README.md',
  'Readme.md',
  'a b',
  'end ',
  ' lead',
  '#hash',
  '!bang',
  'x[1]',
  'q?',
  'st*r',
  'back\\slash',
  'café',
  'naïve',
  '日本',
  'mÁn',
  'tab\tname',
  'new\nline',
  '-dash',
  'a-b',
];
const EXTENSIONS = ['log', 'txt', 'pyc', 'md', 'bar', 'example', 'local', 'c', 'h', 'env'];
const FIXED_PATTERNS = [
  '*',
  '*/',
  '.*',
  '*a*',
  'a*',
  '*b',
  '**',
  '/*',
  '*/*',
  '**/*.log',
  'a?',
  '?',
  '??',
  '[ab]*',
  '[!a]*',
  '[^.]*',
  '*.[ch]',
  '[a-c]',
  '*[0-9]*',
  '[[:alpha:]]*',
  '.env*',
  '/**/x',
  'a/*/b',
  '*/b',
  '**/src/**',
  'src/**/',
  '/',
  '!',
  ' ',
  '\\',
];
const QUIRK_PATTERNS = [
  'a**/b',
  '/a**',
  'ab**/',
  'x/a**',
  'a***/b',
  'src/a**/b',
  'a**/**/b',
  'b**',
];

interface Rng {
  next: () => number;
  int: (n: number) => number;
  pick: <T>(items: readonly T[]) => T;
  chance: (p: number) => boolean;
}

function rng(seed: number): Rng {
  const next = mulberry32(seed);
  const int = (n: number): number => Math.floor(next() * n);
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => items[int(items.length)] as T,
    chance: (p: number) => next() < p,
  };
}

/** A name as a pattern that matches exactly that name. */
function literal(name: string): string {
  let out = name.replace(/[*?[\]\\]/g, '\\$&');
  if (out.startsWith('#') || out.startsWith('!')) out = `\\${out}`;
  if (out.endsWith(' ')) out = `${out.slice(0, -1)}\\ `;
  return out;
}

function randomPattern(r: Rng, dirNames: readonly string[]): string {
  const name = (): string =>
    r.chance(0.4) && dirNames.length > 0 ? r.pick(dirNames) : r.pick(NAMES);
  const plain = (): string => r.pick(NAMES.filter((n) => /^[a-z0-9._-]+$/i.test(n)));
  const forms: (() => string)[] = [
    () => literal(name()),
    () => literal(name()),
    () => `*.${r.pick(EXTENSIONS)}`,
    () => `${literal(name())}/`,
    () => `/${literal(name())}`,
    () => `/${literal(name())}/`,
    () => `${literal(name())}/${literal(name())}`,
    () => `**/${literal(name())}`,
    () => `**/${literal(name())}/`,
    () => `${literal(name())}/**`,
    () => `${literal(name())}/**/${literal(name())}`,
    () => `${literal(name())}/*`,
    () => {
      const n = plain();
      const i = r.int(n.length);
      return `${n.slice(0, i)}?${n.slice(i + 1)}`;
    },
    () => {
      const n = plain();
      const i = r.int(n.length);
      const c = n[i] ?? 'a';
      const cls = r.pick([`[${c}x]`, `[!${c}]`, `[^${c}]`, '[a-c]', '[.]', `[${c}-z]`]);
      return `${n.slice(0, i)}${cls}${n.slice(i + 1)}`;
    },
    () => r.pick(FIXED_PATTERNS),
    () => r.pick(QUIRK_PATTERNS),
    () => {
      const n = r.pick(['café', 'naïve', '日本', 'mÁn']);
      const i = r.int(n.length);
      const wild = r.pick(['?', '??', '???', '*', '[é]', '[à-ï]', '[À-È]', '[!a]', '[[:alpha:]]']);
      return `${n.slice(0, i)}${wild}${n.slice(i + 1)}`;
    },
    () => r.pick(['\\#hash', '\\!bang', '#hash', '!bang', '\\ lead', 'end\\ ', 'end\\ \\ ']),
  ];
  let pattern = r.pick(forms)();
  if (r.chance(0.3)) pattern = `!${pattern}`;
  if (r.chance(0.1)) pattern += r.pick([' ', '  ', '\t', '\\ ']);
  return pattern;
}

function randomGitignore(r: Rng, dirNames: readonly string[]): string {
  const lines: string[] = [];
  const count = 1 + r.int(6);
  for (let i = 0; i < count; i++) {
    if (r.chance(0.08)) lines.push(r.pick(['# a comment', '#', '']));
    lines.push(randomPattern(r, dirNames));
  }
  const eol = r.chance(0.15) ? '\r\n' : '\n';
  let content = lines.join(eol) + (r.chance(0.8) ? eol : '');
  if (r.chance(0.08)) content = `\uFEFF${content}`;
  return content;
}

function randomTree(seed: number): TreeSpec {
  const r = rng(seed);
  const files: string[] = [];
  const dirs: string[] = [''];
  const grow = (relDir: string, level: number): void => {
    const used = new Set<string>(['.gitignore']);
    const count = 1 + r.int(level === 0 ? 8 : 5);
    for (let i = 0; i < count; i++) {
      const name = r.pick(NAMES);
      if (used.has(name)) continue;
      used.add(name);
      const rel = relDir === '' ? name : `${relDir}/${name}`;
      if (level < 4 && r.chance(level === 0 ? 0.5 : 0.35)) {
        dirs.push(rel);
        grow(rel, level + 1);
        // An empty directory is fine too: git lists nothing for it.
        if (r.chance(0.85)) files.push(`${rel}/${r.pick(NAMES.filter((n) => !used.has(n)))}`);
      } else {
        files.push(rel);
      }
    }
  };
  grow('', 0);
  const dirNames = dirs.filter((d) => d !== '').map((d) => d.split('/').pop() ?? d);
  const gitignores: Record<string, string> = {};
  for (const dir of dirs) {
    if (r.chance(dir === '' ? 0.85 : 0.4)) gitignores[dir] = randomGitignore(r, dirNames);
  }
  // Files may collide with directories of the same path; keep directories.
  const dirSet = new Set(dirs);
  return { files: [...new Set(files)].filter((f) => !dirSet.has(f)), gitignores };
}

// ---------------------------------------------------------------------------
// Hand-written tricky cases

const FIXED_CASES: Record<string, TreeSpec> = {
  'whitelist: ignore everything, re-include directories and .ts files': {
    files: ['a.ts', 'a.js', 'src/b.ts', 'src/b.js', 'src/deep/c.ts', 'node_modules/m/i.ts'],
    gitignores: { '': '*\n!*/\n!*.ts\n' },
  },
  're-including defaults from .gitignore': {
    files: ['.env', '.env.example', 'node_modules/x.js', 'dist/a.js', 'app.log', 'keep.log'],
    gitignores: { '': '!.env.example\n!node_modules/\n!keep.log\n' },
  },
  'deeper .gitignore beats shallower': {
    files: ['a.tmp', 'sub/a.tmp', 'sub/keep.tmp', 'sub/deep/keep.tmp', 'sub/deep/x.tmp'],
    gitignores: { '': '*.tmp\n', sub: '!keep.tmp\n', 'sub/deep': '!*.tmp\nkeep.tmp\n' },
  },
  'no re-inclusion below an excluded directory': {
    files: ['build/keep.js', 'build/other.js', 'out/x/keep.js'],
    gitignores: { '': '!build/keep.js\nout/\n!out/x/\n!out/x/keep.js\n' },
  },
  'foo/** with a re-included subdirectory': {
    files: ['foo/a', 'foo/bar/b', 'foo/bar/c/d', 'foo/baz/e'],
    gitignores: { '': 'foo/**\n!foo/bar/\n!foo/bar/**\n' },
  },
  'directory names with glob characters': {
    files: [
      'x[1]/a.txt',
      'x[1]/b.md',
      'x1/a.txt',
      'st*r/a',
      'st*r/b',
      'stxr/a',
      'q?/a',
      'back\\slash/a',
    ],
    gitignores: { 'x[1]': '*.txt\n', 'st*r': '/a\n', 'q?': 'a\n', 'back\\slash': '*\n' },
  },
  'trailing spaces, escaped spaces, escapes': {
    files: ['foo', 'end ', 'end', '#hash', '!bang', 'bang', 'a b', ' lead'],
    gitignores: { '': 'foo   \nend\\ \n\\#hash\n\\!bang\na\\ b\n\\ lead\n' },
  },
  'CRLF and BOM': {
    files: ['a.log2', 'b', 'c', 'sub/d'],
    gitignores: { '': '\uFEFFa.log2\r\nb\r\n', sub: '\uFEFF#c\r\nd \r\n' },
  },
  'globstar after a literal head (git quirk)': {
    files: ['ab', 'a/b', 'ax/y/b', 'axb', 'q/ab', 'abc/d/e', 'zz/a/x/b'],
    gitignores: { '': 'a**/b\n/ab**\n', zz: '/a**/b\n' },
  },
  'directory-only patterns': {
    files: ['dir', 'x/dir/a', 'y/dir', 'nested/dir/b'],
    gitignores: { '': 'dir/\n', nested: '!dir/\n' },
  },
  'anchored, nested and ** forms': {
    files: ['foo/bar', 'a/foo/bar', 'sub/foo/bar', 'sub/x/foo/bar', 'sub/x/y/z', 'sub/y', 'y'],
    gitignores: { '': '/foo/bar\n', sub: '**/foo/bar\nx/**/z\n/y\n' },
  },
  'odd lines that match nothing': {
    files: ['a', 'b', 'c'],
    gitignores: { '': '/\n!\n\\\n \n\n#a\n!/\n//\n' },
  },
  'case sensitivity': {
    files: ['README.md', 'Readme.md', 'readme.md'],
    gitignores: { '': 'README.md\n' },
  },
  'UTF-8 bytes: ? is one byte, ranges compare bytes': {
    files: ['café', 'cafe', 'mÁn', 'naïve', 'x日本', 'new\nline', 'tab\tname'],
    gitignores: { '': 'caf?\nm[À-È]n\nna??ve\nx????\nnew?line\ntab[[:space:]]name\n' },
  },
  'character classes': {
    files: ['a1', 'a2', 'ab', 'a-', 'a]', 'a!', 'b1'],
    gitignores: { '': 'a[0-9]\n[!a]1\na[]]\na[!a-z0-9]\n' },
  },
};

describe('gitignore oracle: walk + filter = git ls-files -o --exclude-standard', () => {
  for (const [name, spec] of Object.entries(FIXED_CASES)) {
    test(`fixed case: ${name}`, async () => {
      const result = await compare(name, spec);
      assert.ok(result.ok, result.ok ? '' : result.message);
    });
  }

  test(`${SINGLE_SEED ? 1 : RUNS} seeded random trees from seed ${FIRST_SEED}`, async () => {
    const failures: string[] = [];
    const runs = SINGLE_SEED ? 1 : RUNS;
    for (let seed = FIRST_SEED; seed < FIRST_SEED + runs; seed++) {
      const result = await compare(`seed ${seed} (ORACLE_SEED=${seed})`, randomTree(seed));
      if (!result.ok) failures.push(result.message);
    }
    assert.equal(
      failures.length,
      0,
      `${failures.length} of ${runs} trees differ; the first:\n${failures.slice(0, 3).join('\n\n')}`,
    );
  });
});
