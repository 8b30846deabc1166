import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BucketspaceError } from '../../common/errors.ts';
import { httpStatusFor, toHttpError } from './http-status.ts';

test('error codes map to real HTTP statuses', () => {
  assert.equal(httpStatusFor('NOT_FOUND'), 404);
  assert.equal(httpStatusFor('CONFLICT'), 409);
  assert.equal(httpStatusFor('UNAUTHORIZED'), 401);
  assert.equal(httpStatusFor('FORBIDDEN'), 403);
  assert.equal(httpStatusFor('INVALID_INPUT'), 400);
  assert.equal(httpStatusFor('DOCKER_UNREACHABLE'), 503);
  assert.equal(httpStatusFor('DOCKER_ERROR'), 502);
  assert.equal(httpStatusFor('MOUNT_UNAVAILABLE'), 503);
  assert.equal(httpStatusFor('INTERNAL'), 500);
});

test('a BucketspaceError keeps its code and message', () => {
  const e = toHttpError(new BucketspaceError('CONFLICT', 'shop is unrecognized: nothing to start'));
  assert.deepEqual(e, {
    status: 409,
    code: 'CONFLICT',
    message: 'shop is unrecognized: nothing to start',
    unexpected: false,
  });
  assert.equal(toHttpError(new BucketspaceError('DOCKER_ERROR', 'x')).unexpected, true);
});

test('anything else is a generic 500 whose text never reaches the client', () => {
  const e = toHttpError(new Error('ECONNREFUSED /var/run/docker.sock secret-ish detail'));
  assert.deepEqual(e, {
    status: 500,
    code: 'INTERNAL',
    message: 'internal error',
    unexpected: true,
  });
  assert.equal(toHttpError('a string').status, 500);
});

test("express's body-parser errors become 400/413 INVALID_INPUT with a fixed message", () => {
  const parse = Object.assign(new SyntaxError('Unexpected token } in JSON at position 3'), {
    status: 400,
    type: 'entity.parse.failed',
  });
  assert.deepEqual(toHttpError(parse), {
    status: 400,
    code: 'INVALID_INPUT',
    message: 'the request body is not valid JSON',
    unexpected: false,
  });
  const big = Object.assign(new Error('request entity too large'), {
    status: 413,
    type: 'entity.too.large',
  });
  assert.equal(toHttpError(big).status, 413);
  assert.equal(toHttpError(big).message, 'the request body is too large');
});
