import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { probeOf } from '../../../test/support/workspace-probe.ts';
import { nodeDetector } from './node-detector.ts';

const START = '{"scripts":{"start":"node server.js"}}';

function found(files: Record<string, string | null>) {
  const result = nodeDetector.detect(probeOf(files));
  assert.equal(result.kind, 'found', JSON.stringify(result));
  return result.kind === 'found' ? result : assert.fail();
}

describe('nodeDetector', () => {
  test('no package.json: not node (index.js alone is not enough)', () => {
    assert.deepEqual(nodeDetector.detect(probeOf({ 'index.js': null })), { kind: 'none' });
  });

  test('start: scripts.start, then main, then index.js, then server.js', () => {
    const withStart = found({
      'package.json': '{"scripts":{"start":"node x.js"},"main":"lib/a.js"}',
      'index.js': null,
    });
    assert.deepEqual(
      [withStart.start, withStart.startReason],
      ['npm start', 'npm start (scripts.start)'],
    );
    const withMain = found({ 'package.json': '{"main":"lib/a.js","scripts":{"start":" "}}' });
    assert.deepEqual(
      [withMain.start, withMain.startReason],
      ['node lib/a.js', 'node lib/a.js (main; no scripts.start)'],
    );
    const withIndex = found({ 'package.json': '{}', 'index.js': null, 'server.js': null });
    assert.deepEqual(
      [withIndex.start, withIndex.startReason],
      ['node index.js', 'node index.js (index.js; no scripts.start or main)'],
    );
    assert.equal(found({ 'package.json': '{}', 'server.js': null }).start, 'node server.js');
  });

  test('a main with shell characters is quoted', () => {
    assert.equal(
      found({ 'package.json': `{"main":"my app's.js"}` }).start,
      `node 'my app'\\''s.js'`,
    );
  });

  test('no way to start: found, with start null and the reason', () => {
    const result = found({ 'package.json': '{"scripts":{"build":"tsc"}}' });
    assert.equal(result.start, null);
    assert.equal(
      result.startReason,
      'package.json has no scripts.start or main, and there is no index.js or server.js',
    );
  });

  test('install from the lockfile', () => {
    const npm = found({ 'package.json': START, 'package-lock.json': null });
    assert.deepEqual([npm.install, npm.installReason], ['npm ci', 'npm ci (package-lock.json)']);
    assert.equal(found({ 'package.json': START, 'npm-shrinkwrap.json': null }).install, 'npm ci');
    const yarn = found({ 'package.json': START, 'yarn.lock': null });
    assert.deepEqual(
      [yarn.install, yarn.start],
      ['corepack yarn install --frozen-lockfile', 'corepack yarn start'],
    );
    const pnpm = found({ 'package.json': START, 'pnpm-lock.yaml': null });
    assert.deepEqual(
      [pnpm.install, pnpm.start],
      ['corepack pnpm install --frozen-lockfile', 'npm start'],
    );
  });

  test("yarn starts main through yarn (Plug'n'Play has no node_modules)", () => {
    assert.equal(
      found({ 'package.json': '{"main":"a.js"}', 'yarn.lock': null }).start,
      'corepack yarn node a.js',
    );
  });

  test('several lockfiles: packageManager decides, else package-lock.json first', () => {
    const files = { 'package-lock.json': null, 'yarn.lock': null, 'pnpm-lock.yaml': null };
    const first = found({ 'package.json': START, ...files });
    assert.deepEqual(
      [first.install, first.installReason],
      ['npm ci', 'npm ci (package-lock.json; ignoring yarn.lock, pnpm-lock.yaml)'],
    );
    const pinned = found({ 'package.json': '{"packageManager":"pnpm@9.1.0"}', ...files });
    assert.equal(
      pinned.installReason,
      'corepack pnpm install --frozen-lockfile (pnpm-lock.yaml, packageManager; ignoring package-lock.json, yarn.lock)',
    );
    // Pinned to a manager whose lockfile is absent: the lockfile present wins.
    const absent = found({
      'package.json': '{"packageManager":"yarn@4.0.0"}',
      'pnpm-lock.yaml': null,
    });
    assert.equal(absent.install, 'corepack pnpm install --frozen-lockfile');
  });

  test('no lockfile: npm install only when there are dependencies', () => {
    const deps = found({
      'package.json': '{"dependencies":{"express":"^5"},"devDependencies":{"x":"1"}}',
    });
    assert.deepEqual(
      [deps.install, deps.installReason],
      ['npm install', 'npm install (no lockfile; package.json has dependencies, devDependencies)'],
    );
    const none = found({ 'package.json': '{"dependencies":{}}', 'index.js': null });
    assert.deepEqual(
      [none.install, none.installReason],
      [null, 'nothing (no lockfile and no dependencies in package.json)'],
    );
  });

  test('malformed package.json is invalid, naming the file and the position', () => {
    assert.deepEqual(nodeDetector.detect(probeOf({ 'package.json': '{"main": "a.js" "x": 1}' })), {
      kind: 'invalid',
      reason:
        "package.json is not valid JSON: Expected ',' or '}' after property value in JSON at position 16 (line 1 column 17)",
    });
    assert.deepEqual(nodeDetector.detect(probeOf({ 'package.json': '[]' })), {
      kind: 'invalid',
      reason: 'package.json must be a JSON object',
    });
  });

  test('package.json listed but its text missing (unreadable) is invalid, never guessed', () => {
    assert.deepEqual(nodeDetector.detect(probeOf({ 'package.json': null })), {
      kind: 'invalid',
      reason: 'package.json could not be read (see the scan errors)',
    });
  });
});
