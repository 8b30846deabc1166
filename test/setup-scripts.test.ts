// The seed's scripts: setup-s3-mount.sh (host checks, .env, shared mount
// directory; starting the stack is what test/stack-e2e-*.test.ts does) and
// s3-workspace-sync.sh (the sync CLI against a real S3 server, with the
// checkout's Node and in the control-plane image).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listKeys } from './support/bucket.ts';
import { docker, dockerAvailable } from './support/docker.ts';
import { ensureImages } from './support/images.ts';
import { useTestS3 } from './support/s3-fixture.ts';
import { makeTree } from './support/workspace-tree.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SETUP = join(ROOT, 'scripts/setup-s3-mount.sh');
const SYNC = join(ROOT, 'scripts/s3-workspace-sync.sh');
const fixture = useTestS3();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: 180_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

const baseEnv = () => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: process.env.HOME ?? '/root',
});

function propagationOf(dir: string): string {
  return execFileSync('findmnt', ['-n', '-o', 'PROPAGATION', '--target', dir], {
    encoding: 'utf8',
  }).trim();
}

/** A temp dir for one run of the setup script, with its mount root (unmounted after). */
async function setupDir(t: TestContext): Promise<{ dir: string; mountRoot: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'bucketspace-setup-'));
  const mountRoot = join(dir, 'mnt');
  t.after(async () => {
    try {
      execFileSync('umount', ['-l', mountRoot], { stdio: 'ignore' });
    } catch {
      // not mounted
    }
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, mountRoot };
}

// No registry is reachable here: the S3 server's image is pointed at a local
// one so that the image check passes (a user's machine pulls the default).
const LOCAL_S3_IMAGE = { MINIO_IMAGE: 'bucketspace-local/node:24' };

test('setup-s3-mount.sh writes .env with generated secrets, shares the mount dir, and is idempotent', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bucketspace-setup-'));
  const envFile = join(dir, 'env');
  const mountRoot = join(dir, 'mnt');
  t.after(async () => {
    try {
      execFileSync('umount', ['-l', mountRoot], { stdio: 'ignore' });
    } catch {
      // not mounted
    }
    await rm(dir, { recursive: true, force: true });
  });
  const env = { ...baseEnv(), ...LOCAL_S3_IMAGE, BUCKETSPACE_ENV_FILE: envFile };
  const first = await run(SETUP, ['--no-start', '--mount-root', mountRoot], env);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /wrote .* with generated credentials/);
  assert.match(
    first.stderr,
    /COMPOSE_FILE=docker-compose\.yml:docker-compose\.rclone\.yml written/,
  );
  assert.match(first.stderr, /every image the stack needs is here or can be pulled/);

  const written = await readFile(envFile, 'utf8');
  assert.equal((await stat(envFile)).mode & 0o777, 0o600);
  const value = (key: string) => written.match(new RegExp(`^${key}=(.*)$`, 'm'))?.[1];
  assert.match(value('MINIO_ROOT_PASSWORD') ?? '', /^[0-9a-f]{48}$/);
  assert.match(value('MINIO_ROOT_USER') ?? '', /^bucketspace-[0-9a-f]{8}$/);
  assert.match(value('MONITOR_TOKEN') ?? '', /^[0-9a-f]{48}$/);
  // A later plain `docker compose up` uses the same files as the setup.
  assert.equal(value('COMPOSE_FILE'), 'docker-compose.yml:docker-compose.rclone.yml');
  assert.equal(value('BUCKETSPACE_MOUNT_ROOT'), mountRoot);
  // Every other setting of the example is there, unchanged.
  const example = await readFile(join(ROOT, '.env.example'), 'utf8');
  for (const key of example.match(/^[A-Z0-9_]+(?==)/gm) ?? []) {
    assert.ok(value(key) !== undefined, `${key} in the written .env`);
  }
  // The host's / is private here: the script made the mount root shared.
  assert.match(propagationOf(mountRoot), /^shared/);

  const second = await run(SETUP, ['--no-start', '--mount-root', mountRoot], env);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stderr, /ok +COMPOSE_FILE=docker-compose\.yml:docker-compose\.rclone\.yml$/m);
  assert.match(second.stderr, /exists \(kept as it is\)/);
  assert.match(second.stderr, /is on a shared mount/);
  assert.equal(await readFile(envFile, 'utf8'), written, '.env unchanged by a second run');
  const mounts = execFileSync('findmnt', ['-n', '--mountpoint', mountRoot], { encoding: 'utf8' });
  assert.equal(mounts.trim().split('\n').length, 1, 'no second bind mount');
});

test('setup-s3-mount.sh names a missing prerequisite and how to get it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'bucketspace-setup-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // A PATH with no docker on it.
  const bin = join(dir, 'bin');
  await mkdir(bin);
  for (const tool of ['dirname', 'bash']) {
    await symlink(execFileSync('which', [tool], { encoding: 'utf8' }).trim(), join(bin, tool));
  }
  const noDocker = await run(SETUP, ['--no-start'], {
    PATH: bin,
    BUCKETSPACE_ENV_FILE: join(dir, 'env'),
  });
  assert.equal(noDocker.code, 1);
  assert.match(noDocker.stderr, /Docker is not installed/);
  assert.match(noDocker.stderr, /docs\.docker\.com\/engine\/install/);

  const badVariant = await run(SETUP, ['--variant', 'nfs'], baseEnv());
  assert.equal(badVariant.code, 1);
  assert.match(badVariant.stderr, /--variant must be rclone, s3fs or direct/);
});

test("setup-s3-mount.sh names an image that cannot be pulled, the registry's answer and the setting that replaces it; nothing starts", async (t) => {
  if (!(await dockerAvailable())) return t.skip('needs a Docker engine');
  const { dir, mountRoot } = await setupDir(t);
  const missing = `bucketspace-test/no-such-image:${randomBytes(4).toString('hex')}`;
  const r = await run(SETUP, ['--mount-root', mountRoot], {
    ...baseEnv(),
    BUCKETSPACE_ENV_FILE: join(dir, 'env'),
    MINIO_IMAGE: missing,
  });
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(`image ${missing} \\(service minio\\) is not here and cannot be pulled`),
  );
  assert.match(r.stderr, /The registry answered: \S/);
  assert.match(r.stderr, /Set MINIO_IMAGE in .* to an image you can pull/);
  assert.match(r.stderr, /nothing was started/);
  assert.doesNotMatch(r.stderr, /starting the stack/);
});

test('setup-s3-mount.sh --external-s3 records the variant and stops at the placeholder keys, saying what to edit', async (t) => {
  if (!(await dockerAvailable())) return t.skip('needs a Docker engine');
  await ensureImages(['control-plane']);
  const { dir, mountRoot } = await setupDir(t);
  const envFile = join(dir, 'env');
  const project = `bssetup${randomBytes(3).toString('hex')}`;
  // The settings check runs in a one-off container on the project's network; Compose
  // makes the project's named volumes for it too.
  t.after(async () => {
    await docker
      .getNetwork(`${project}_default`)
      .remove()
      .catch(() => undefined);
    const { Volumes } = await docker.listVolumes({
      filters: { label: [`com.docker.compose.project=${project}`] },
    });
    for (const v of Volumes ?? []) {
      await docker
        .getVolume(v.Name)
        .remove()
        .catch(() => undefined);
    }
  });
  const r = await run(SETUP, ['--external-s3', '--variant', 's3fs', '--mount-root', mountRoot], {
    ...baseEnv(),
    BUCKETSPACE_ENV_FILE: envFile,
    COMPOSE_PROJECT_NAME: project,
  });
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    await readFile(envFile, 'utf8'),
    /^COMPOSE_FILE=docker-compose\.yml:docker-compose\.external-s3\.yml:docker-compose\.s3fs\.yml$/m,
  );
  // No local S3 server, so its image is not needed.
  assert.match(r.stderr, /every image the stack needs is here or can be pulled/);
  assert.match(r.stderr, /S3_ACCESS_KEY_ID is the placeholder from \.env\.example/);
  assert.match(r.stderr, /edit the S3_\* settings in .*, then run this again/);
});

test('stack-down.sh and stack-doctor.sh explain themselves and refuse unknown options', async () => {
  for (const script of ['scripts/stack-down.sh', 'scripts/stack-doctor.sh']) {
    const help = await run(join(ROOT, script), ['--help'], baseEnv());
    assert.equal(help.code, 0, script);
    assert.match(help.stdout, /^usage: /);
    const bad = await run(join(ROOT, script), ['--bogus'], baseEnv());
    assert.notEqual(bad.code, 0, script);
    assert.match(bad.stderr, /unknown option --bogus/);
  }
  const down = await run(join(ROOT, 'scripts/stack-down.sh'), ['--help'], baseEnv());
  assert.match(down.stdout, /bucketspace\.managed-by/);
  assert.match(down.stdout, /--forget/);
});

test('setup-s3-mount.sh refuses an existing .env that still has the placeholder password', async (t) => {
  if (!(await dockerAvailable())) return t.skip('needs a Docker engine');
  const dir = await mkdtemp(join(tmpdir(), 'bucketspace-setup-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const envFile = join(dir, 'env');
  await writeFile(envFile, await readFile(join(ROOT, '.env.example')));
  const r = await run(SETUP, ['--no-start'], { ...baseEnv(), BUCKETSPACE_ENV_FILE: envFile });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /has no real MINIO_ROOT_PASSWORD/);
  assert.match(r.stderr, /remove .* to have one generated/);
});

test('s3-workspace-sync.sh workspace <name> syncs that workspace only, filtered', async (t) => {
  const tree = await makeTree({
    'shop/index.js': 'console.log(1)\n',
    'shop/node_modules/x/index.js': 'x',
    'shop/.env': 'SECRET=1',
    'blog/index.html': '<p>blog</p>',
  });
  t.after(() => tree.remove());
  const bucket = fixture.s3.newBucketName();
  const r = await run(SYNC, ['workspace', 'shop', '--json'], {
    ...baseEnv(),
    ...fixture.env(tree, bucket),
  });
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { uploaded: number };
  assert.equal(summary.uploaded, 1);
  assert.deepEqual(await listKeys(fixture.client, bucket), ['shop/index.js']);

  const help = await run(SYNC, ['--help'], baseEnv());
  assert.equal(help.code, 0);
  assert.match(help.stdout, /workspace <name>/);
  const usage = await run(SYNC, ['workspace'], { ...baseEnv(), ...fixture.env(tree, bucket) });
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /usage: .* workspace <name>/);
});

test('s3-workspace-sync.sh trash and restore <name>: a deleted workspace comes back', async (t) => {
  const tree = await makeTree({ 'shop/index.js': 'console.log(1)\n', 'blog/index.html': 'b' });
  t.after(() => tree.remove());
  const env = { ...baseEnv(), ...fixture.env(tree, fixture.s3.newBucketName()) };
  assert.equal((await run(SYNC, [], env)).code, 0);
  await rm(join(tree.workspacesDir, 'shop'), { recursive: true });
  assert.equal((await run(SYNC, [], env)).code, 0);
  const listed = await run(SYNC, ['trash'], env);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^shop\s+\d{4}-\d\d-\d\dT[\d-]+\.\d{3}Z\s+1\s+/m);
  const restored = await run(SYNC, ['restore', 'shop'], env);
  assert.equal(restored.code, 0, restored.stderr);
  assert.equal(
    await readFile(join(tree.workspacesDir, 'shop/index.js'), 'utf8'),
    'console.log(1)\n',
  );
  const help = await run(SYNC, ['--help'], baseEnv());
  assert.match(help.stdout, /restore <name>/);
});

test("s3-workspace-sync.sh reads the stack's .env: MinIO on 127.0.0.1 with its root credentials", async (t) => {
  if (!fixture.s3.local) return t.skip('maps a local MinIO port; needs the local test server');
  const tree = await makeTree({ 'site/index.html': '<p>site</p>', 'site/dist/x.js': 'x' });
  t.after(() => tree.remove());
  const bucket = fixture.s3.newBucketName();
  const envFile = join(tree.root, 'env');
  const port = new URL(fixture.s3.endpoint).port;
  await writeFile(
    envFile,
    [
      `MINIO_ROOT_USER=${fixture.s3.accessKeyId}`,
      `MINIO_ROOT_PASSWORD=${fixture.s3.secretAccessKey}`,
      `MINIO_API_PORT=${port}`,
      `S3_BUCKET=${bucket}`,
      `WORKSPACES_DIR=${tree.workspacesDir}`,
      '',
    ].join('\n'),
  );
  const r = await run(SYNC, [], {
    ...baseEnv(),
    BUCKETSPACE_ENV_FILE: envFile,
    SYNC_STATE_DIR: tree.stateDir,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await listKeys(fixture.client, bucket), ['site/index.html']);
});

test('s3-workspace-sync.sh runs in the control-plane image when there is no node_modules', async (t) => {
  if (!(await dockerAvailable())) return t.skip('needs a Docker engine');
  if (!fixture.s3.local)
    return t.skip('the image reaches the local test server over the host network');
  await ensureImages(['control-plane']);
  const tree = await makeTree({ 'api/main.py': 'print(1)\n', 'api/__pycache__/m.pyc': 'x' });
  t.after(() => tree.remove());
  const bucket = fixture.s3.newBucketName();
  const r = await run(SYNC, ['--json'], {
    ...baseEnv(),
    ...fixture.env(tree, bucket),
    BUCKETSPACE_SYNC_RUNNER: 'docker',
  });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await listKeys(fixture.client, bucket), ['api/main.py']);
});
