// The mounts REST API over real HTTP, with the real manager, rclone and FUSE.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { lstat, mkdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import express, { type ErrorRequestHandler } from 'express';
import { useTestS3 } from './support/s3-fixture.ts';
import {
  makeSandbox,
  mountsUnder,
  seedBucket,
  type MountSandbox,
} from './support/mount-sandbox.ts';
import { isBucketspaceError, type ErrorCode } from '../services/common/errors.ts';
import type { MountContext } from '../services/mounts/mount-context.ts';
import { mountsRouter } from '../services/mounts/mounts-router.ts';
import type { MountRecord } from '../services/mounts/types.ts';

const fixture = useTestS3();

/** What the monitor's error middleware does, in small: codes to statuses. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  INVALID_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  MOUNT_BUSY: 409,
  MOUNT_FAILED: 502,
  MOUNT_UNAVAILABLE: 503,
  TOOL_MISSING: 503,
};
const errors: ErrorRequestHandler = (err, _req, res, _next) => {
  const code = isBucketspaceError(err) ? err.code : 'INTERNAL';
  res.status(STATUS[code] ?? 500).json({ error: { code, message: (err as Error).message } });
};

let box: MountSandbox;
let ctx: MountContext;
let server: Server;
let base: string;
let bucket: string;

beforeEach(async () => {
  box = await makeSandbox(fixture);
  ctx = box.open();
  const app = express();
  app.use('/api/v0/mounts', mountsRouter(ctx.manager));
  app.use(errors);
  server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v0/mounts`;
  bucket = fixture.s3.newBucketName();
  await seedBucket(fixture.client, bucket, { 'f.txt': 'over http\n' });
});
afterEach(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  ctx.close();
  await box.cleanup();
});

async function call(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const record = (json: Record<string, unknown>) => json.record as MountRecord;

describe('REST API /api/v0/mounts', () => {
  test('create, list, get (with a live check), stop, start, delete', async () => {
    const r1 = box.root('r1');
    const created = await call('POST', '/', { bucket: `s3://${bucket}`, roots: [r1], auto: true });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.equal(record(created.json).state, 'running');
    assert.equal(record(created.json).id, bucket);
    assert.equal(await readFile(join(r1, bucket, 'f.txt'), 'utf8'), 'over http\n');

    const again = await call('POST', '/', { bucket, roots: [box.root('r2')] });
    assert.equal(again.status, 200, 'an existing mount gets a link, not a second mount');
    assert.equal(record(again.json).links.length, 2);
    assert.equal((await mountsUnder(box.dir)).length, 1);

    const list = await call('GET', '/');
    assert.equal(list.status, 200);
    const mounts = list.json.mounts as MountRecord[];
    assert.deepEqual(
      mounts.map((m) => [m.bucket, m.state, m.healthy]),
      [[bucket, 'running', true]],
    );
    assert.ok(mounts[0]?.lastCheckAt, 'the dashboard sees when it was last checked');

    const one = await call('GET', `/${bucket}`);
    assert.equal(one.status, 200);
    assert.deepEqual(one.json.check, { healthy: true, mounted: true, reason: null });
    assert.ok(Array.isArray(one.json.events));

    const stopped = await call('POST', `/${bucket}/stop`);
    assert.equal(stopped.status, 200);
    assert.equal(record(stopped.json).state, 'stopped');
    assert.deepEqual(await mountsUnder(box.dir), []);
    const down = await call('GET', `/${bucket}`);
    assert.deepEqual(down.json.check, { healthy: false, mounted: false, reason: 'not mounted' });

    const started = await call('POST', `/${bucket}/start`);
    assert.equal(started.status, 200);
    assert.equal(record(started.json).state, 'running');
    assert.equal(await readFile(join(box.root('r2'), bucket, 'f.txt'), 'utf8'), 'over http\n');

    const removed = await call('DELETE', `/${bucket}`);
    assert.equal(removed.status, 200);
    assert.equal((removed.json.removedLinks as string[]).length, 2);
    assert.deepEqual(await mountsUnder(box.dir), []);
    assert.equal((await call('GET', `/${bucket}`)).status, 404);
  });

  test('PATCH: roots replaced (links follow); read-only remounts so writes are refused', async () => {
    const r1 = box.root('r1');
    const r2 = box.root('r2');
    const created = await call('POST', '/', { bucket, roots: [r1] });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const pid = record(created.json).pid;

    const moved = await call('PATCH', `/${bucket}`, { roots: [r2] });
    assert.equal(moved.status, 200, JSON.stringify(moved.json));
    assert.deepEqual(
      record(moved.json).links.map((l) => l.path),
      [join(r2, bucket)],
    );
    assert.equal(record(moved.json).pid, pid, 'links change without a remount');
    await assert.rejects(lstat(join(r1, bucket)), { code: 'ENOENT' });
    assert.equal(await readlink(join(r2, bucket)), join(box.mountDir, bucket));

    const ro = await call('PATCH', `/${bucket}`, { readOnly: true });
    assert.equal(ro.status, 200, JSON.stringify(ro.json));
    assert.equal(record(ro.json).options.readOnly, true);
    assert.notEqual(record(ro.json).pid, pid, 'remounted');
    await assert.rejects(writeFile(join(r2, bucket, 'new.txt'), 'x'), { code: 'EROFS' });
    assert.equal(await readFile(join(r2, bucket, 'f.txt'), 'utf8'), 'over http\n');
  });

  test('errors map to statuses: 400 bad body or name, 404 unknown, 409 something at the link path', async () => {
    const bad = await call('POST', '/', { bucket, roots: [box.root('r')], color: 'blue' });
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.json), /color/);
    assert.equal((await call('POST', '/', { bucket, roots: ['relative/dir'] })).status, 400);
    assert.equal((await call('POST', '/', { bucket: 'Not_A_Bucket' })).status, 400);
    assert.equal(
      (await call('POST', '/', { bucket, roots: [box.root('r')], cacheMode: 'huge' })).status,
      400,
    );
    assert.equal((await call('GET', '/Not_A_Bucket')).status, 400);
    assert.equal((await call('GET', `/${bucket}`)).status, 404);
    assert.equal((await call('POST', `/${bucket}/start`)).status, 404);
    assert.equal((await call('DELETE', `/${bucket}`)).status, 404);

    const r = box.root('taken');
    await mkdir(join(r, bucket), { recursive: true });
    const conflict = await call('POST', '/', { bucket, roots: [r] });
    assert.equal(conflict.status, 409);
    assert.match((conflict.json.error as { message: string }).message, /is already a directory/);
    assert.equal((await call('GET', '/')).json.mounts instanceof Array, true);
    assert.deepEqual((await call('GET', '/')).json.mounts, []);

    assert.equal((await call('POST', '/', { bucket, roots: [box.root('ok')] })).status, 201);
    assert.equal((await call('PATCH', `/${bucket}`, {})).status, 400, 'nothing to change');
    assert.equal((await call('PATCH', `/${bucket}`, { roots: [r] })).status, 409);
  });
});
