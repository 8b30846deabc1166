// `bucketspace mirror download|upload|sync|ls` as a shell pipeline runs it, against a real S3 API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startCliProcess } from './support/cli-process.ts';
import { withMirrorSandbox, type MirrorSandbox } from './support/mirror-fixture.ts';
import { runCli } from './support/run-cli.ts';
import { useTestS3 } from './support/s3-fixture.ts';
import { eventually } from './support/watch-process.ts';

const fixture = useTestS3();

const withSandbox = (fn: (box: MirrorSandbox) => Promise<void>) => withMirrorSandbox(fixture, fn);

const cli = (box: MirrorSandbox, args: string[], extra: Record<string, string> = {}) =>
  runCli(['mirror', ...args], { ...box.env(), MIRROR_CACHE_ROOT: box.cacheRoot, ...extra });

test('download prints the local path, which matches S3; --json says what was done', async () => {
  await withSandbox(async (box) => {
    await box.put({ 'data/a.txt': 'a', 'data/b/c.txt': 'c' });
    const res = await cli(box, ['download', `s3://${box.bucket}/data`]);
    assert.equal(res.code, 0, res.stderr);
    // The command tunes V8 (decision 0074); a flag V8 does not know would print this.
    assert.doesNotMatch(res.stderr, /unrecognized flag/);
    const local = join(box.cacheRoot, box.bucket, 'data');
    assert.equal(res.stdout, `${local}\n`);
    assert.deepEqual(await box.tree(local), { 'a.txt': 'a', 'b/c.txt': 'c' });

    const json = await cli(box, ['download', `s3://${box.bucket}/data`, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const outcome = JSON.parse(json.stdout) as {
      local: string;
      reports: { operation: string; transferred: number; unchanged: number }[];
    };
    assert.equal(outcome.local, local);
    assert.deepEqual(
      outcome.reports.map((r) => [r.operation, r.transferred, r.unchanged]),
      [['download', 0, 2]],
    );
  });
});

test('upload once; sync with --no-delete-remote; ls one level and --recursive', async () => {
  await withSandbox(async (box) => {
    const out = join(box.dir, 'results');
    await box.write(out, { 'metrics.json': '{}', 'plots/loss.svg': '<svg/>' });
    const up = await cli(box, ['upload', `s3://${box.bucket}/results`, '--local', out]);
    assert.equal(up.code, 0, up.stderr);
    assert.equal(up.stdout, `${out}\n`);
    assert.deepEqual(await box.keys(), ['results/metrics.json', 'results/plots/loss.svg']);

    const copy = join(box.dir, 'copy');
    await box.write(copy, { 'extra.txt': 'x' });
    const sync = await cli(box, [
      'sync',
      `s3://${box.bucket}/results`,
      '--local',
      copy,
      '--no-delete-local',
      '--no-delete-remote',
    ]);
    assert.equal(sync.code, 0, sync.stderr);
    assert.deepEqual(await box.keys(), [
      'results/extra.txt',
      'results/metrics.json',
      'results/plots/loss.svg',
    ]);

    const ls = await cli(box, ['ls', `s3://${box.bucket}/results`]);
    assert.equal(ls.code, 0, ls.stderr);
    const b = `s3://${box.bucket}/results`;
    assert.equal(ls.stdout, `${b}/extra.txt\n${b}/metrics.json\n${b}/plots/\n`);
    const all = await cli(box, ['ls', b, '--recursive', '--json']);
    assert.deepEqual(JSON.parse(all.stdout), [
      `${b}/extra.txt`,
      `${b}/metrics.json`,
      `${b}/plots/loss.svg`,
    ]);
  });
});

test('upload --interval keeps uploading until SIGTERM, then uploads once more and exits 0', async () => {
  await withSandbox(async (box) => {
    const logs = join(box.dir, 'logs');
    await mkdir(logs);
    await writeFile(join(logs, '1.log'), 'first');
    const proc = await startCliProcess({
      args: ['mirror', 'upload', `s3://${box.bucket}/logs`, '--local', logs, '--interval', '200ms'],
      env: { ...box.env(), MIRROR_CACHE_ROOT: box.cacheRoot },
      readyMessage: 'registered for upload',
    });
    try {
      await eventually('the background upload', async () =>
        (await box.keys()).includes('logs/1.log'),
      );
      await writeFile(join(logs, '2.log'), 'second');
      await writeFile(join(logs, '1.log'), 'first, longer now');
      const { code } = await proc.stop('SIGTERM');
      assert.equal(code, 0, proc.output().slice(-3000));
      assert.deepEqual(await box.keys(), ['logs/1.log', 'logs/2.log']);
      assert.equal(await box.read('logs/1.log'), 'first, longer now');
      assert.match(proc.output(), /every 200ms/);
    } finally {
      await proc.stop('SIGKILL');
    }
  });
});

test('exit codes: 3 when a rail refuses, 2 for a bad URL or wrong credentials, 1 for a missing bucket', async () => {
  await withSandbox(async (box) => {
    const local = join(box.dir, 'keep');
    await box.write(local, { 'a.txt': 'a' });
    const refused = await cli(box, ['download', `s3://${box.bucket}/empty`, '--local', local]);
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, /remote-empty/);
    assert.equal(await readFile(join(local, 'a.txt'), 'utf8'), 'a');

    const bad = await cli(box, ['download', 'gs://elsewhere/x']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /only s3:\/\/ URLs/);

    const wrong = await cli(box, ['ls', `s3://${box.bucket}/`], {
      S3_ACCESS_KEY_ID: 'NOT-A-KEY',
      S3_SECRET_ACCESS_KEY: 'nope',
    });
    assert.equal(wrong.code, 2, wrong.stderr);
    assert.match(wrong.stderr, /access denied/);

    const missing = await cli(box, ['download', `s3://${fixture.s3.newBucketName()}/x`, '--json']);
    assert.equal(missing.code, 1, missing.stderr);
    assert.equal(
      (JSON.parse(missing.stdout) as { error: { code: string } }).error.code,
      'S3_NO_SUCH_BUCKET',
    );

    const config = await cli(box, ['download', `s3://${box.bucket}/x`, '--max-workers', '0']);
    assert.equal(config.code, 2);
    assert.match(config.stderr, /--max-workers \(MIRROR_MAX_WORKERS\).*at least 1/);
  });
});
