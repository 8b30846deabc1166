import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeRootError } from './mount-health.ts';

function systemError(code: string): Error {
  return Object.assign(new Error(`${code}: something`), { code });
}

describe('describeRootError', () => {
  test('ENOTCONN: the FUSE mount died, and how to fix it', () => {
    assert.equal(
      describeRootError('/workspaces', systemError('ENOTCONN')),
      '/workspaces: Transport endpoint is not connected (ENOTCONN) — the FUSE mount died; restart the mount, or run "fusermount -uz /workspaces" and mount again',
    );
  });

  test('EIO, ESTALE, EACCES and a missing root each say what to do', () => {
    assert.match(
      describeRootError('/w', systemError('EIO')),
      /^\/w: input\/output error \(EIO\) — .*S3 endpoint$/,
    );
    assert.match(describeRootError('/w', systemError('ESTALE')), /unmount and mount again$/);
    assert.match(describeRootError('/w', systemError('EACCES')), /--allow-other/);
    assert.match(describeRootError('/w', systemError('ENOENT')), /set WORKSPACES_MOUNT/);
  });

  test('anything else: the code, and that the mount looks broken', () => {
    assert.equal(
      describeRootError('/w', systemError('EHOSTDOWN')),
      "/w: EHOSTDOWN — the mount looks broken; check the mount's logs, and restart it",
    );
    assert.equal(
      describeRootError('/w', new Error('odd')),
      "/w: odd — the mount looks broken; check the mount's logs, and restart it",
    );
  });
});
