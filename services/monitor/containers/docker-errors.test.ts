import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyDockerError } from './docker-errors.ts';

function engineError(statusCode: number, message: string) {
  return Object.assign(new Error(`(HTTP code ${statusCode}) ${message}`), {
    statusCode,
    json: { message },
  });
}

test('engine errors are classified by status, with the engine message', () => {
  const notFound = classifyDockerError(engineError(404, 'No such container: x'), 'inspect x');
  assert.equal(notFound.code, 'NOT_FOUND');
  assert.equal(notFound.message, 'inspect x: No such container: x');
  assert.equal(classifyDockerError(engineError(409, 'in use'), 'rm').code, 'CONFLICT');
  const server = classifyDockerError(engineError(500, 'boom'), 'run');
  assert.equal(server.code, 'DOCKER_ERROR');
  assert.equal(server.retryable, true);
  assert.equal(classifyDockerError(engineError(400, 'bad'), 'run').retryable, false);
});

test('a missing socket or refused connection is DOCKER_UNREACHABLE and retryable', () => {
  for (const code of ['ENOENT', 'ECONNREFUSED', 'EACCES']) {
    const err = classifyDockerError(Object.assign(new Error('x'), { code }), 'ping Docker');
    assert.equal(err.code, 'DOCKER_UNREACHABLE', code);
    assert.equal(err.retryable, true);
    assert.match(err.message, new RegExp(`ping Docker: Docker is unreachable \\(${code}\\)`));
  }
});
