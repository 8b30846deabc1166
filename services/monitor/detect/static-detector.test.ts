import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { probeOf } from '../../../test/support/workspace-probe.ts';
import { staticDetector } from './static-detector.ts';

describe('staticDetector', () => {
  test('index.html: nginx serves /app, nothing to install', () => {
    assert.deepEqual(
      staticDetector.detect(probeOf({ 'index.html': null, 'public/index.html': null })),
      {
        kind: 'found',
        evidence: 'index.html',
        start: 'nginx (serves /app)',
        startReason: 'nginx serves /app (index.html)',
        install: null,
        installReason: 'nothing (static files)',
      },
    );
  });

  test('public/index.html: nginx serves /app/public', () => {
    const result = staticDetector.detect(probeOf({ 'public/index.html': null }));
    assert.equal(result.kind === 'found' && result.start, 'nginx (serves /app/public)');
  });

  test('none otherwise', () => {
    assert.deepEqual(staticDetector.detect(probeOf({ 'site/index.html': null })), {
      kind: 'none',
    });
  });
});
