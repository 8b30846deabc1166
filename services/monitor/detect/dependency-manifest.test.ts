import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RunPlan, WorkspaceSnapshot } from '../types.ts';
import { detectWorkspace } from './detect-workspace.ts';
import { dependencyPlan, type DependencyPlan } from './dependency-manifest.ts';

interface Files {
  /** Text files at the root (detection reads package.json and requirements.txt). */
  texts?: Record<string, string>;
  /** Other files: path -> [size, mtime]. */
  stats?: Record<string, [number, number]>;
  hashes?: Record<string, string>;
}

function workspace(files: Files): { snapshot: WorkspaceSnapshot; plan: RunPlan } {
  const texts = new Map(Object.entries(files.texts ?? {}));
  const all = [
    ...[...texts].map(([relPath, text]) => ({ relPath, size: text.length, mtimeMs: 1 })),
    ...Object.entries(files.stats ?? {}).map(([relPath, [size, mtimeMs]]) => ({
      relPath,
      size,
      mtimeMs,
    })),
    ...Object.keys(files.hashes ?? {}).map((relPath) => ({ relPath, size: 10, mtimeMs: 1 })),
  ];
  const snapshot: WorkspaceSnapshot = {
    name: 'app',
    dir: '/w/app',
    fingerprint: 'f',
    fileCount: all.length,
    lastChangeMs: 1,
    probe: {
      name: 'app',
      files: new Set(all.map((f) => f.relPath).filter((p) => !p.includes('/'))),
      texts,
    },
    files: all,
    hashes: new Map(Object.entries(files.hashes ?? {})),
    errors: [],
  };
  const detection = detectWorkspace(snapshot.probe);
  assert.ok(detection.kind === 'runnable', JSON.stringify(detection));
  return { snapshot, plan: detection.plan };
}

function planOf(files: Files): DependencyPlan {
  const { snapshot, plan } = workspace(files);
  return dependencyPlan(snapshot, plan);
}

function digestOf(files: Files): string {
  const plan = planOf(files);
  assert.ok(plan.kind === 'cached', JSON.stringify(plan));
  return plan.digest;
}

const pkg = (extra: object = {}) =>
  JSON.stringify({ scripts: { start: 'node server.js' }, dependencies: { a: '^1.0.0' }, ...extra });

describe('dependencyPlan: node', () => {
  test('npm ci is cached in node_modules, keyed on the dependency fields and the lockfile', () => {
    const base: Files = {
      texts: { 'package.json': pkg() },
      stats: { 'server.js': [10, 1] },
      hashes: { 'package-lock.json': 'h1' },
    };
    const plan = planOf(base);
    assert.deepEqual(plan.kind === 'cached' && [plan.dir, plan.inputs], [
      '/app/node_modules',
      ['package.json dependencies', 'package-lock.json'],
    ]);
    const digest = digestOf(base);
    // Code, scripts other than install hooks, and the version do not change the key.
    assert.equal(
      digestOf({
        ...base,
        texts: { 'package.json': pkg({ version: '2.0.0', scripts: { start: 'node x.js' } }) },
      }),
      digest,
    );
    assert.equal(digestOf({ ...base, stats: { 'server.js': [99, 2] } }), digest);
    // The lockfile, a dependency field, overrides, .npmrc do.
    assert.notEqual(digestOf({ ...base, hashes: { 'package-lock.json': 'h2' } }), digest);
    assert.notEqual(
      digestOf({ ...base, texts: { 'package.json': pkg({ dependencies: { a: '^2.0.0' } }) } }),
      digest,
    );
    assert.notEqual(
      digestOf({ ...base, texts: { 'package.json': pkg({ overrides: { b: '1.0.0' } }) } }),
      digest,
    );
    assert.notEqual(
      digestOf({ ...base, hashes: { 'package-lock.json': 'h1', '.npmrc': 'n' } }),
      digest,
    );
    assert.notEqual(
      digestOf({
        ...base,
        texts: { 'package.json': pkg(), 'workspace.json': '{"env":{"NODE_ENV":"production"}}' },
      }),
      digest,
      'the app env (NODE_ENV decides dev dependencies)',
    );
  });

  test('npm install without a lockfile is cached on package.json alone', () => {
    const plan = planOf({ texts: { 'package.json': pkg() } });
    assert.ok(plan.kind === 'cached');
    assert.deepEqual(plan.inputs, ['package.json dependencies']);
  });

  test('a vendored tarball is part of the key; a local directory is not cacheable', () => {
    const tarball = (size: number): Files => ({
      texts: { 'package.json': pkg({ dependencies: { g: 'file:packages/g-1.0.0.tgz' } }) },
      stats: { 'packages/g-1.0.0.tgz': [size, 5] },
    });
    const plan = planOf(tarball(100));
    assert.ok(plan.kind === 'cached');
    assert.deepEqual(plan.inputs, ['package.json dependencies', 'packages/g-1.0.0.tgz']);
    assert.notEqual(digestOf(tarball(100)), digestOf(tarball(101)));
    const linked = planOf({
      texts: { 'package.json': pkg({ dependencies: { lib: 'file:./lib' } }) },
      stats: { 'lib/index.js': [1, 1] },
    });
    assert.ok(linked.kind === 'uncached');
    assert.match(
      linked.why,
      /local dependency lib \(file:\.\/lib\) is a directory linked into \/app/,
    );
    const outside = planOf({
      texts: { 'package.json': pkg({ dependencies: { lib: 'file:../lib' } }) },
    });
    assert.ok(outside.kind === 'uncached');
    assert.match(outside.why, /\(file:\.\.\/lib\) is not among the scanned files/);
  });

  test('install hooks, Yarn 2+ and custom install commands are installed by every container', () => {
    const hook = planOf({
      texts: {
        'package.json': pkg({ scripts: { start: 'node s.js', postinstall: 'node gen.js' } }),
      },
    });
    assert.ok(hook.kind === 'uncached');
    assert.match(hook.why, /scripts\.postinstall/);
    const berry = planOf({
      texts: { 'package.json': pkg({ packageManager: 'yarn@4.1.0' }) },
      hashes: { 'yarn.lock': 'y' },
    });
    assert.ok(berry.kind === 'uncached');
    assert.match(berry.why, /Yarn 2\+/);
    const classic = planOf({ texts: { 'package.json': pkg() }, hashes: { 'yarn.lock': 'y' } });
    assert.equal(classic.kind, 'cached');
    const custom = planOf({
      texts: { 'package.json': pkg(), 'workspace.json': '{"install":"npm ci && npm run build"}' },
    });
    assert.ok(custom.kind === 'uncached');
    assert.match(custom.why, /npm ci && npm run build.*not a detected one/);
  });

  test('nothing to install: none', () => {
    assert.deepEqual(planOf({ texts: { 'package.json': '{"scripts":{"start":"node s.js"}}' } }), {
      kind: 'none',
    });
  });
});

describe('dependencyPlan: python, go, static', () => {
  test('requirements.txt is cached in the venv; its includes are part of the key', () => {
    const reqs = (text: string, base: number): Files => ({
      texts: { 'requirements.txt': text, 'app.py': 'print(1)' },
      stats: { 'base.txt': [base, 1] },
      hashes: { 'requirements.txt': `h-${text}` },
    });
    const plan = planOf(reqs('flask\n-r base.txt\n', 10));
    assert.ok(plan.kind === 'cached');
    assert.equal(plan.dir, '/app/.venv');
    assert.deepEqual(plan.inputs, ['requirements.txt', 'base.txt']);
    assert.notEqual(
      digestOf(reqs('flask\n-r base.txt\n', 10)),
      digestOf(reqs('flask\n-r base.txt\n', 11)),
    );
    const editable = planOf(reqs('-e ./lib\n', 1));
    assert.ok(editable.kind === 'uncached');
    assert.match(editable.why, /editable/);
    const localDir = planOf(reqs('./lib\n', 1));
    assert.ok(localDir.kind === 'uncached');
    assert.match(localDir.why, /local directory \.\/lib/);
  });

  test('pip install . is not cached: the venv holds the project itself', () => {
    const plan = planOf({
      texts: { 'pyproject.toml': '[project]\nname = "svc"\n[project.scripts]\nsvc = "svc:main"\n' },
    });
    assert.ok(plan.kind === 'uncached');
    assert.match(plan.why, /pip install \./);
  });

  test('go mod download is cached in GOPATH with the build cache, keyed on go.mod and go.sum', () => {
    const go = (sum: string): Files => ({
      stats: { 'main.go': [1, 1] },
      hashes: { 'go.mod': 'm', 'go.sum': sum },
    });
    const plan = planOf(go('s1'));
    assert.ok(plan.kind === 'cached');
    assert.equal(plan.dir, '/home/app/go');
    assert.deepEqual(plan.env, { GOCACHE: '/home/app/go/build-cache' });
    assert.deepEqual(plan.inputs, ['go.mod', 'go.sum']);
    assert.notEqual(digestOf(go('s1')), digestOf(go('s2')));
  });

  test('static sites install nothing', () => {
    assert.deepEqual(planOf({ stats: { 'index.html': [1, 1] } }), { kind: 'none' });
  });
});
