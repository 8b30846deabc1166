import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_DOCKER_SOCKET, parseDockerHost } from './docker-host.ts';

test('DOCKER_HOST: unset and unix:// mean a socket', () => {
  assert.deepEqual(parseDockerHost(undefined), { socketPath: DEFAULT_DOCKER_SOCKET });
  assert.deepEqual(parseDockerHost(''), { socketPath: DEFAULT_DOCKER_SOCKET });
  assert.deepEqual(parseDockerHost('unix:///run/user/1000/docker.sock'), {
    socketPath: '/run/user/1000/docker.sock',
  });
});

test('DOCKER_HOST: tcp:// and bare host:port mean plain HTTP', () => {
  assert.deepEqual(parseDockerHost('tcp://10.0.0.5:2375'), {
    protocol: 'http',
    host: '10.0.0.5',
    port: 2375,
  });
  assert.deepEqual(parseDockerHost('docker-proxy:2375'), {
    protocol: 'http',
    host: 'docker-proxy',
    port: 2375,
  });
});

test('DOCKER_HOST: unsupported schemes are a config error naming the variable', () => {
  assert.throws(
    () => parseDockerHost('ssh://me@host'),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.match(err.message, /DOCKER_HOST "ssh:\/\/me@host": scheme ssh is not supported/);
      return true;
    },
  );
});
