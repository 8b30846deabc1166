import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pinnedImage, repositoryOf } from './image-reference.ts';

test('repositoryOf drops the tag and the digest, not a registry port', () => {
  assert.equal(repositoryOf('bucketspace/runtime-node:latest'), 'bucketspace/runtime-node');
  assert.equal(repositoryOf('registry.lan:5000/team/app:1.2'), 'registry.lan:5000/team/app');
  assert.equal(repositoryOf('registry.lan:5000/team/app'), 'registry.lan:5000/team/app');
  assert.equal(repositoryOf('node@sha256:abc'), 'node');
});

test('pinnedImage: every task runs the same image, nodes pull only what they lack', () => {
  const pulled = {
    id: 'sha256:id1',
    repoDigests: ['other/repo@sha256:x', 'registry.lan:5000/app@sha256:d1'],
  };
  assert.equal(
    pinnedImage('registry.lan:5000/app:1', pulled, undefined),
    'registry.lan:5000/app@sha256:d1',
  );
  const loaded = { id: 'sha256:id2', repoDigests: [] };
  assert.equal(
    pinnedImage('bucketspace/runtime-node:latest', loaded, 'sha256:ignored'),
    'sha256:id2',
  );
  assert.equal(
    pinnedImage('registry.lan:5000/app:1', undefined, 'sha256:d9'),
    'registry.lan:5000/app@sha256:d9',
  );
  assert.equal(pinnedImage('app:1', undefined, undefined), 'app:1');
  assert.equal(pinnedImage('app@sha256:given', loaded, undefined), 'app@sha256:given');
});
