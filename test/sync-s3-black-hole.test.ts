// A black-holed S3 endpoint: the sync must say it is waiting, and give up within its settings
// (S3_CONNECT_TIMEOUT, S3_REQUEST_TIMEOUT, S3_MAX_ATTEMPTS, S3_RETRY_TIMEOUT), never hang.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import {
  acceptsNeverAnswers,
  neverAccepts,
  neverAcceptsSkipReason,
  type BlackHole,
} from './support/black-holes.ts';
import { startCountingProxy } from './support/counting-proxy.ts';
import { CLI, runCli, summaryOf, type CliResult } from './support/run-cli.ts';
import { useTestS3 } from './support/s3-fixture.ts';
import { makeTree } from './support/workspace-tree.ts';

const fixture = useTestS3();

const TIMEOUTS = {
  S3_CONNECT_TIMEOUT: '300ms',
  S3_REQUEST_TIMEOUT: '500ms',
  S3_MAX_ATTEMPTS: '3',
  S3_RETRY_TIMEOUT: '1m',
};

/** The "waiting for S3" log lines of a run: the attempt each announced. */
function waitingAttempts(res: CliResult): number[] {
  return res.stderr
    .split('\n')
    .filter((l) => l.includes('waiting for S3'))
    .map((l) => (JSON.parse(l) as { attempt: number }).attempt);
}

async function syncAgainst(
  hole: BlackHole,
  extra: Record<string, string> = {},
): Promise<CliResult> {
  const tree = await makeTree({ 'app/a.txt': 'a' });
  try {
    return await runCli(['sync', '--json'], {
      ...fixture.env(tree, fixture.s3.newBucketName()),
      S3_ENDPOINT: hole.url,
      ...TIMEOUTS,
      ...extra,
    });
  } finally {
    await tree.remove();
  }
}

describe('sync against a black-holed S3', () => {
  for (const hole of [
    { kind: 'accepts and never answers', start: acceptsNeverAnswers, skip: false as const },
    { kind: 'never accepts the connection', start: neverAccepts, skip: neverAcceptsSkipReason() },
  ]) {
    test(
      `regression: a server that ${hole.kind}: "waiting for S3 (attempt n)", then exit 1 naming it`,
      { skip: hole.skip },
      async () => {
        const server = await hole.start();
        try {
          const res = await syncAgainst(server);
          assert.equal(res.code, 1, res.stderr);
          assert.match(res.stderr, /S3 endpoint unreachable/);
          assert.match(res.stderr, /gave up after 3 attempts/);
          assert.deepEqual([...new Set(waitingAttempts(res))], [2, 3]);
        } finally {
          await server.close();
        }
      },
    );
  }

  test('S3_RETRY_TIMEOUT bounds the whole wait: no attempt starts after it, whatever S3_MAX_ATTEMPTS allows', async () => {
    const hole = await acceptsNeverAnswers();
    try {
      const res = await syncAgainst(hole, { S3_MAX_ATTEMPTS: '20', S3_RETRY_TIMEOUT: '1s' });
      assert.equal(res.code, 1, res.stderr);
      const gaveUp = Number(/gave up after (\d+) attempts/.exec(res.stderr)?.[1]);
      assert.ok(gaveUp >= 2 && gaveUp < 20, `gave up after ${gaveUp} of 20 attempts`);
      assert.ok(Math.max(...waitingAttempts(res)) <= gaveUp);
    } finally {
      await hole.close();
    }
  });

  test('uploads to a server that stops answering PUTs: each named, S3_UNREACHABLE, exit 1', async () => {
    const tree = await makeTree({ 'app/a.txt': 'a', 'app/b.txt': 'b', 'app/c.txt': 'c' });
    const bucket = fixture.s3.newBucketName();
    await fixture.client.send(new CreateBucketCommand({ Bucket: bucket }));
    // Listing and bucket checks are answered; every PUT is swallowed.
    const proxy = await startCountingProxy(() => fixture.s3.endpoint, {
      hold: ({ method }) => (method === 'PUT' ? new Promise<void>(() => undefined) : undefined),
    });
    try {
      const res = await runCli(['sync', '--json', '--concurrency', '1'], {
        ...fixture.env(tree, bucket, { S3_ENDPOINT: proxy.url }),
        ...TIMEOUTS,
        S3_MAX_ATTEMPTS: '2',
      });
      assert.equal(res.code, 1, res.stderr);
      const summary = summaryOf(res);
      assert.equal(summary.uploaded, 0);
      assert.deepEqual(
        summary.failures.map((f) => [f.path, f.code]),
        [
          ['a.txt', 'S3_UNREACHABLE'],
          ['b.txt', 'S3_UNREACHABLE'],
          ['c.txt', 'S3_UNREACHABLE'],
        ],
      );
      assert.match(summary.failures[0]?.message ?? '', /gave up after 2 attempts/);
      assert.match(summary.failures[1]?.message ?? '', /not attempted/, 'the rest fail at once');
      assert.deepEqual([...new Set(waitingAttempts(res))], [2]);
    } finally {
      await proxy.close();
      await tree.remove();
    }
  });

  test(
    'on a terminal the wait is visible: "waiting for S3 (attempt 2 of 2 ...)"',
    { skip: !existsSync('/usr/bin/script') ? 'needs script(1) to provide a terminal' : false },
    async () => {
      const hole = await acceptsNeverAnswers();
      const tree = await makeTree({ 'app/a.txt': 'a' });
      try {
        const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} sync`;
        let out = '';
        try {
          execFileSync('/usr/bin/script', ['-qec', cmd, '/dev/null'], {
            env: {
              PATH: process.env.PATH ?? '',
              HOME: process.env.HOME ?? '/root',
              ...fixture.env(tree, fixture.s3.newBucketName()),
              S3_ENDPOINT: hole.url,
              ...TIMEOUTS,
              S3_MAX_ATTEMPTS: '2',
            },
            encoding: 'utf8',
            timeout: 60_000,
          });
        } catch (err) {
          out = String((err as { stdout?: string }).stdout ?? '');
        }
        assert.match(out, /waiting for S3 \(attempt 2 of 2 in [\d.]+ s\)/);
        assert.match(out, /S3 endpoint unreachable/);
      } finally {
        await tree.remove();
        await hole.close();
      }
    },
  );
});
