import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { probeOf } from '../../../test/support/workspace-probe.ts';
import { goDetector } from './go-detector.ts';

const BUILD = (pkg: string) =>
  `go build -o /tmp/bucketspace-app ${pkg} && exec /tmp/bucketspace-app`;

describe('goDetector', () => {
  test('none without go.mod or main.go', () => {
    assert.deepEqual(goDetector.detect(probeOf({ 'server.go': null })), { kind: 'none' });
  });

  test('go.mod with Go files at the root: download, build ., exec', () => {
    assert.deepEqual(goDetector.detect(probeOf({ 'go.mod': null, 'server.go': null })), {
      kind: 'found',
      evidence: 'go.mod',
      start: BUILD('.'),
      startReason: 'build . then run it (Go files at the root)',
      install: 'go mod download',
      installReason: 'go mod download (go.mod)',
    });
  });

  test('main.go without go.mod: builds the file, nothing to install', () => {
    assert.deepEqual(goDetector.detect(probeOf({ 'main.go': null })), {
      kind: 'found',
      evidence: 'main.go',
      start: BUILD('main.go'),
      startReason: 'build main.go then run it (main.go without go.mod)',
      install: null,
      installReason: 'nothing (no go.mod)',
    });
  });

  test('go.mod and one cmd/<name>/main.go: builds that command', () => {
    const result = goDetector.detect(probeOf({ 'go.mod': null, 'cmd/api/main.go': null }));
    assert.equal(result.kind === 'found' && result.start, BUILD('./cmd/api'));
  });

  test('go.mod with no root Go files and zero or several commands: no start, and why', () => {
    const none = goDetector.detect(probeOf({ 'go.mod': null }));
    assert.deepEqual(none.kind === 'found' && [none.start, none.startReason], [
      null,
      'no .go files at the root and no cmd/*/main.go',
    ]);
    const several = goDetector.detect(
      probeOf({ 'go.mod': null, 'cmd/b/main.go': null, 'cmd/a/main.go': null }),
    );
    assert.deepEqual(several.kind === 'found' && [several.start, several.startReason], [
      null,
      'no .go files at the root and several commands (cmd/a/main.go, cmd/b/main.go)',
    ]);
  });
});
