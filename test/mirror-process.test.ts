// The mirror in a process of its own: a pipeline killed with SIGKILL and restarted, and progress
// bars on a terminal (through `script`, which gives the child a pseudo-terminal) but not on a pipe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mirrorSandbox, type MirrorSandbox } from './support/mirror-fixture.ts';
import { useTestS3 } from './support/s3-fixture.ts';
import { eventually } from './support/watch-process.ts';

const fixture = useTestS3();
const PIPELINE = fileURLToPath(new URL('./support/mirror/pipeline.ts', import.meta.url));
const PROGRESS = fileURLToPath(new URL('./support/mirror/progress.ts', import.meta.url));

function childEnv(box: MirrorSandbox): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...box.env() };
}

/** Runs a script to its end: exit code and output. */
function run(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { env, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

const stepOf = (key: string) => Number(/step-(\d+)$/.exec(key)?.[1]);

test('a pipeline killed with SIGKILL mid-run and restarted elsewhere resumes from what was uploaded; nothing uploaded is lost', async () => {
  const box = await mirrorSandbox(fixture);
  try {
    await box.put({ 'run/data/input.txt': 'the dataset' });
    const first = spawn(
      process.execPath,
      [PIPELINE, box.bucket, join(box.dir, 'machine-1'), '1000000', '50'],
      { env: childEnv(box), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let firstOut = '';
    first.stdout.setEncoding('utf8').on('data', (d: string) => (firstOut += d));
    first.stderr.setEncoding('utf8').on('data', (d: string) => (firstOut += d));
    await eventually(
      'three checkpoints uploaded in the background',
      async () => (await box.keys('run/ckpt/')).length >= 3,
      60_000,
    ).catch((err: unknown) => {
      first.kill('SIGKILL');
      throw new Error(`${String(err)}\npipeline output:\n${firstOut.slice(-2000)}`);
    });
    const exited = once(first, 'exit');
    first.kill('SIGKILL');
    const [, signal] = (await exited) as [number | null, string | null];
    assert.equal(signal, 'SIGKILL');
    assert.match(firstOut, /^resume 1$/m);

    const uploaded = await box.keys('run/ckpt/');
    assert.ok(
      uploaded.every((k) => /^run\/ckpt\/step-\d+$/.test(k)),
      `only whole checkpoints (never a .partial): ${uploaded.join(', ')}`,
    );
    const etags = new Map<string, string | undefined>();
    for (const key of uploaded)
      etags.set(
        key,
        (await fixture.client.send(new HeadObjectCommand({ Bucket: box.bucket, Key: key }))).ETag,
      );
    const newest = Math.max(...uploaded.map(stepOf));
    const last = newest + 5;

    // A new machine: an empty cache, only what reached S3.
    const second = await run(
      process.execPath,
      [PIPELINE, box.bucket, join(box.dir, 'machine-2'), String(last), '50'],
      childEnv(box),
    );
    assert.equal(second.code, 0, second.stderr + second.stdout);
    assert.match(second.stdout, new RegExp(`^resume ${newest + 1}$`, 'm'));
    assert.doesNotMatch(second.stdout, new RegExp(`^step ${newest}$`, 'm'), 'no step done twice');

    const final = await box.keys('run/ckpt/');
    const expected = [
      ...uploaded,
      ...Array.from({ length: 5 }, (_, i) => `run/ckpt/step-${newest + 1 + i}`),
    ].sort();
    assert.deepEqual(final, expected, 'everything uploaded before the kill, and the rest');
    for (const [key, etag] of etags) {
      const now = await fixture.client.send(
        new HeadObjectCommand({ Bucket: box.bucket, Key: key }),
      );
      assert.equal(now.ETag, etag, `${key} unchanged`);
    }
    for (const key of final)
      assert.equal(await box.read(key), `checkpoint ${stepOf(key)} of the dataset`, key);
  } finally {
    await box.remove();
  }
});

test('showProgress: a bar on a terminal, nothing on a pipe or when turned off', async (t) => {
  const script = await run('script', ['--version'], { PATH: process.env.PATH ?? '' });
  if (script.code !== 0) return t.skip('needs script(1) for a pseudo-terminal');
  const box = await mirrorSandbox(fixture);
  try {
    await box.put({ 'p/a.txt': 'a'.repeat(1000), 'p/b.txt': 'b'.repeat(2000) });
    const env = childEnv(box);
    const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const onTerminal = (cache: string, ...flags: string[]) =>
      run(
        'script',
        [
          '--quiet',
          '--return',
          '--command',
          [process.execPath, PROGRESS, box.bucket, 'p', join(box.dir, cache), ...flags]
            .map(quote)
            .join(' '),
          '/dev/null',
        ],
        env,
      );
    const tty = await onTerminal('tty');
    assert.equal(tty.code, 0, tty.stdout + tty.stderr);
    assert.match(tty.stdout, new RegExp(`download s3://${box.bucket}/p \\[.*\\] 2/2 files`));

    const off = await onTerminal('tty-off', '--no-progress');
    assert.equal(off.code, 0, off.stdout);
    assert.doesNotMatch(off.stdout, /files/);

    const piped = await run(
      process.execPath,
      [PROGRESS, box.bucket, 'p', join(box.dir, 'pipe')],
      env,
    );
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stderr, '', 'nothing on stderr when it is a pipe');
    assert.equal(piped.stdout.trim(), join(box.dir, 'pipe', box.bucket, 'p'));
  } finally {
    await box.remove();
  }
});
