// `bucketspace mount daemon` with real rclone and FUSE: auto-mount, health
// checks that remount a dead mount, links recreated, failures recorded with
// backoff, everything unmounted on SIGTERM.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { lstat, mkdir, readFile, readlink, rm, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { useTestS3 } from './support/s3-fixture.ts';
import { CLI, runCli } from './support/run-cli.ts';
import {
  makeSandbox,
  mountsUnder,
  processesUsing,
  seedBucket,
  waitFor,
  type MountSandbox,
} from './support/mount-sandbox.ts';
import type { MountContext } from '../services/mounts/mount-context.ts';

const fixture = useTestS3();

let box: MountSandbox;
let ctx: MountContext | undefined;
let daemon: ChildProcess | undefined;
let daemonLog = '';
beforeEach(async () => {
  box = await makeSandbox(fixture);
});
afterEach(async () => {
  ctx?.close();
  ctx = undefined;
  if (daemon && daemon.exitCode === null) {
    daemon.kill('SIGKILL');
    await once(daemon, 'exit');
  }
  daemon = undefined;
  await box.cleanup();
});

function startDaemon(env: Record<string, string>): ChildProcess {
  daemonLog = '';
  const child = spawn(process.execPath, [CLI, 'mount', 'daemon'], {
    env: { MOUNT_HEALTH_INTERVAL: '300ms', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (daemonLog += d));
  return child;
}

async function stopDaemon(child: ChildProcess): Promise<number | null> {
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  return code;
}

describe('mount daemon', () => {
  test('auto-mounts, remounts a killed rclone within seconds, recreates links, unmounts all on SIGTERM', async () => {
    const bucket = fixture.s3.newBucketName();
    const idle = fixture.s3.newBucketName();
    await seedBucket(fixture.client, bucket, { 'a.txt': 'alpha\n' });
    await seedBucket(fixture.client, idle, { 'b.txt': 'beta\n' });
    const r1 = box.root('r1');
    const r2 = box.root('r2');
    const add = await runCli(
      ['mount', 'add', bucket, '--root', r1, '--root', r2, '--auto', '--no-start'],
      box.env(),
    );
    assert.equal(add.code, 0, add.stderr);
    assert.equal(
      (await runCli(['mount', 'add', idle, '--root', r1, '--no-start'], box.env())).code,
      0,
    );
    assert.deepEqual(await mountsUnder(box.dir), [], 'nothing mounted before the daemon');

    daemon = startDaemon(box.env());
    ctx = box.open();
    const manager = ctx.manager;
    // The record says running once rclone answers; the links follow it.
    const served = async (roots: string[]) =>
      (
        await Promise.all(
          roots.map((r) => readFile(join(r, bucket, 'a.txt'), 'utf8').catch(() => undefined)),
        )
      ).every((text) => text === 'alpha\n');
    const first = await waitFor('the auto mount, through both links', async () => {
      const rec = manager.get(bucket);
      return rec?.state === 'running' && rec.pid !== null && (await served([r1, r2]))
        ? rec
        : undefined;
    });
    assert.equal(await readFile(join(r1, bucket, 'a.txt'), 'utf8'), 'alpha\n');
    assert.equal(await readFile(join(r2, bucket, 'a.txt'), 'utf8'), 'alpha\n');

    // A dead rclone leaves "Transport endpoint is not connected" behind.
    process.kill(first.pid as number, 'SIGKILL');
    const second = await waitFor('the remount', async () => {
      const rec = manager.get(bucket);
      return rec?.state === 'running' &&
        rec.healthy === true &&
        rec.pid !== first.pid &&
        (await served([r1]))
        ? rec
        : undefined;
    });
    assert.equal(await readFile(join(r1, bucket, 'a.txt'), 'utf8'), 'alpha\n');
    assert.ok(second.failures >= 1, 'the failure is counted');
    const events = manager.events(bucket);
    assert.ok(
      events.some((e) => e.kind === 'failure' && /not connected|not mounted/.test(e.message)),
      JSON.stringify(events),
    );
    assert.ok(events.some((e) => e.kind === 'remount'));
    assert.equal(
      (await processesUsing(box.dir)).length,
      1,
      'the dead process was replaced, not duplicated',
    );

    // A link someone deleted comes back.
    await unlink(join(r2, bucket));
    await waitFor('the link to come back', async () =>
      (await lstat(join(r2, bucket)).catch(() => undefined))?.isSymbolicLink() ? true : undefined,
    );
    assert.equal(await readlink(join(r2, bucket)), join(box.mountDir, bucket));
    assert.equal(manager.get(idle)?.state, 'stopped', 'a stopped mount is left alone');
    assert.deepEqual(await mountsUnder(box.dir), [join(box.mountDir, bucket)]);

    assert.equal(await stopDaemon(daemon), 0, daemonLog);
    assert.deepEqual(await mountsUnder(box.dir), []);
    assert.deepEqual(await processesUsing(box.dir), []);
    assert.equal(manager.get(bucket)?.state, 'stopped');
    await assert.rejects(lstat(join(r1, bucket)), { code: 'ENOENT' });
    await assert.rejects(lstat(join(r2, bucket)), { code: 'ENOENT' });
  });

  test('a remount that cannot happen is recorded and retried with backoff until it can', async () => {
    const bucket = fixture.s3.newBucketName();
    await seedBucket(fixture.client, bucket, { 'a.txt': 'alpha\n' });
    // A PATH of our own, so rclone can disappear and come back like an uninstall and reinstall.
    const bin = join(box.dir, 'bin');
    await mkdir(bin);
    for (const tool of ['rclone', 'fusermount', 'fusermount3', 'stat']) {
      await symlink(`/usr/bin/${tool}`, join(bin, tool));
    }
    const env = box.env({ PATH: bin });
    assert.equal((await runCli(['mount', 'add', bucket, '--root', box.root('r')], env)).code, 0);
    ctx = box.open();
    const manager = ctx.manager;
    daemon = startDaemon(env);
    const pid = manager.get(bucket)?.pid as number;

    await rm(join(bin, 'rclone'));
    process.kill(pid, 'SIGKILL');
    const failing = await waitFor('failures to be recorded', () => {
      const rec = manager.get(bucket);
      return rec && rec.failures >= 3 ? rec : undefined;
    });
    assert.equal(failing.state, 'error');
    assert.match(failing.lastError ?? '', /rclone is not installed/);
    const attempts = manager
      .events(bucket, 50)
      .filter((e) => e.kind === 'failure' && /not installed/.test(e.message));
    assert.ok(attempts.length >= 2, 'each attempt is recorded');

    await symlink('/usr/bin/rclone', join(bin, 'rclone'));
    const back = await waitFor('the remount once rclone is back', () => {
      const rec = manager.get(bucket);
      return rec?.state === 'running' && rec.healthy === true ? rec : undefined;
    });
    assert.notEqual(back.pid, pid);
    assert.equal(await readFile(join(box.root('r'), bucket, 'a.txt'), 'utf8'), 'alpha\n');
    assert.equal(await stopDaemon(daemon), 0, daemonLog);
    assert.deepEqual(await mountsUnder(box.dir), []);
  });
});
