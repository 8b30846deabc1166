import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDeployReport } from './deploy-report.ts';

test('copied: NUL-terminated records of size, mtime in seconds and path (spaces and newlines in paths kept)', () => {
  const report = parseDeployReport(
    new Map([
      [
        'copied',
        Buffer.from(
          '12 1700000000.1234567890 server.js\0' + '0 1700000001 a b\nc.txt\0' + 'garbage\0',
        ),
      ],
      ['dependencies', Buffer.from('reused\n')],
    ]),
  );
  assert.deepEqual([...(report.copied?.keys() ?? [])], ['server.js', 'a b\nc.txt']);
  assert.equal(report.copied?.get('server.js')?.size, 12);
  assert.ok(
    Math.abs((report.copied?.get('server.js')?.mtimeMs ?? 0) - 1_700_000_000_123.4568) < 0.001,
  );
  assert.equal(report.copied?.get('a b\nc.txt')?.mtimeMs, 1_700_000_001_000);
  assert.equal(report.dependencies, 'reused');
});

test('missing parts are undefined, an unknown dependency word too', () => {
  assert.deepEqual(parseDeployReport(new Map()), { copied: undefined, dependencies: undefined });
  assert.equal(
    parseDeployReport(new Map([['dependencies', Buffer.from('maybe')]])).dependencies,
    undefined,
  );
});
