// The runtime entrypoint's report and dependency cache (images/README.md, "The report" and
// "The dependency cache"), run directly with `docker run` under the monitor's restrictions.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseDeployReport } from '../services/monitor/containers/deploy-report.ts';
import { writeDepsApp } from './support/deps-app.ts';
import { docker, removeContainers } from './support/docker.ts';
import { ensureImages, imageRef } from './support/images.ts';
import { LocalContainer, printed } from './support/local-container.ts';

const ID = randomBytes(4).toString('hex');
const LABEL_KEY = 'bucketspace.test';
const LABEL_VALUE = `runtime-report-${ID}`;
const VOLUME = `bs-report-${ID}`;
let root = '';
let counter = 0;

before(async () => {
  await ensureImages(['runtime-node']);
  root = await mkdtemp(path.join(tmpdir(), 'bucketspace-report-'));
  await docker.createVolume({ Name: VOLUME, Labels: { [LABEL_KEY]: LABEL_VALUE } });
});

after(async () => {
  await removeContainers(`${LABEL_KEY}=${LABEL_VALUE}`);
  await docker
    .getVolume(VOLUME)
    .remove()
    .catch(() => undefined);
  if (root !== '') await rm(root, { recursive: true, force: true });
});

/** The node image as the monitor starts it: no capabilities, /workspace read-only, labelled. */
function restricted(dir: string): LocalContainer {
  return new LocalContainer(imageRef('runtime-node'))
    .withName(`bs-report-${ID}-${++counter}`)
    .withLabels({ [LABEL_KEY]: LABEL_VALUE })
    .withDroppedCapabilities('ALL')
    .withBindMounts([{ source: dir, target: '/workspace', mode: 'ro' }]);
}

/** Start a container that runs to its end; its exit code and everything it printed. */
async function toEnd(container: LocalContainer): Promise<{ exitCode: number; logs: string }> {
  const started = await container.start();
  const { StatusCode } = (await docker.getContainer(started.getId()).wait()) as {
    StatusCode: number;
  };
  return { exitCode: StatusCode, logs: await printed(started) };
}

/**
 * Run the node image to completion the way the monitor starts it (no
 * capabilities, no-new-privileges, /workspace read-only), with the dependency
 * cache at /app/node_modules when `key` is given, and `command` in place of the
 * app. Resolves with the exit code and both log streams.
 */
async function runToEnd(options: {
  dir: string;
  key?: string;
  env?: Record<string, string>;
  command: string;
}): Promise<{ exitCode: number; logs: string }> {
  const env = {
    ...options.env,
    ...(options.key === undefined
      ? {}
      : { BUCKETSPACE_DEPS_DIR: '/app/node_modules', BUCKETSPACE_DEPS_KEY: options.key }),
  };
  let container = restricted(options.dir)
    .withSecurityOpt('no-new-privileges')
    .withEnvironment(env)
    .withCommand(['sh', '-c', options.command]);
  if (options.key !== undefined) {
    container = container.withNamedVolume(VOLUME, '/app/node_modules');
  }
  return toEnd(container);
}

/** Print a report file, NUL bytes as newlines so the logs carry it. */
const SHOW = (file: string) => `tr '\\0' '\\n' < /tmp/bucketspace-deploy/${file}`;

describe('runtime entrypoint: the dependency cache', () => {
  test('an install cut short is never reused; a finished one is; another key installs afresh', async () => {
    const dir = path.join(root, 'shop');
    await writeDepsApp(dir, { greeting: 'hello', message: 'm' });
    const check = `${SHOW('dependencies')}; node -e "console.log(require('greeting')('ok'))"`;

    const cut = await runToEnd({
      dir,
      key: 'k1',
      env: { BUCKETSPACE_INSTALL: 'npm ci && exit 7' },
      command: check,
    });
    assert.equal(cut.exitCode, 66, cut.logs);
    assert.match(cut.logs, /install failed with exit code 7/);

    const first = await runToEnd({ dir, key: 'k1', command: check });
    assert.equal(first.exitCode, 0, first.logs);
    assert.match(first.logs, /installing into the dependency cache \/app\/node_modules/);
    assert.match(first.logs, /^installed$/m);
    assert.match(first.logs, /^hello ok$/m);

    const again = await runToEnd({
      dir,
      key: 'k1',
      command: `${check}; touch /app/node_modules/planted`,
    });
    assert.equal(again.exitCode, 0, again.logs);
    assert.match(again.logs, /reusing the dependencies in \/app\/node_modules/);
    assert.doesNotMatch(again.logs, /installing/);
    assert.match(again.logs, /^reused$/m);
    assert.match(again.logs, /^hello ok$/m);

    const other = await runToEnd({
      dir,
      key: 'k2',
      command: `${check}; ls -a /app/node_modules; cat /app/node_modules/.bucketspace-deps`,
    });
    assert.equal(other.exitCode, 0, other.logs);
    assert.match(other.logs, /^installed$/m);
    assert.doesNotMatch(other.logs, /planted/, 'the volume was emptied first');
    assert.match(other.logs, /^k2$/m);
  });

  test('a cache directory without a key, or not writable, is a configuration error (64)', async () => {
    const dir = path.join(root, 'bad');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'package.json'), '{}');
    const run = await runToEnd({
      dir,
      env: { BUCKETSPACE_DEPS_DIR: '/app/node_modules' },
      command: 'true',
    });
    assert.equal(run.exitCode, 64, run.logs);
    assert.match(run.logs, /BUCKETSPACE_DEPS_DIR is set but BUCKETSPACE_DEPS_KEY is not/);
    // A cache directory the app user cannot write (root's tmpfs): said, with the way out.
    const unwritable = await toEnd(
      restricted(dir)
        .withTmpFs({ '/app/node_modules': '' })
        .withEnvironment({ BUCKETSPACE_DEPS_DIR: '/app/node_modules', BUCKETSPACE_DEPS_KEY: 'k' })
        .withCommand(['true']),
    );
    assert.equal(unwritable.exitCode, 64);
    assert.match(
      unwritable.logs,
      /not a directory writable by uid 10001 .*RUNTIME_DEPENDENCY_CACHE=false/,
    );
  });
});

describe('runtime entrypoint: the copy report', () => {
  test('every copied file with its size and the source mtime; a node_modules under /workspace neither copied over the cache nor listed', async () => {
    const dir = path.join(root, 'copied');
    await mkdir(path.join(dir, 'sub'), { recursive: true });
    await mkdir(path.join(dir, 'node_modules', 'x'), { recursive: true });
    await writeFile(path.join(dir, 'package.json'), '{"scripts":{"start":"node a.js"}}');
    await writeFile(path.join(dir, 'sub', 'a b.txt'), 'twelve bytes');
    await writeFile(path.join(dir, 'node_modules', 'x', 'host.js'), 'from the host');
    await utimes(path.join(dir, 'sub', 'a b.txt'), 1_700_000_000.25, 1_700_000_000.25);
    const run = await runToEnd({
      dir,
      key: 'copy-key',
      command: `cat /tmp/bucketspace-deploy/copied | base64 -w0; echo; ls /app/node_modules`,
    });
    assert.equal(run.exitCode, 0, run.logs);
    const encoded = run.logs.split('\n').find((l) => /^[A-Za-z0-9+/=]{20,}$/.test(l)) ?? '';
    const report = parseDeployReport(new Map([['copied', Buffer.from(encoded, 'base64')]]));
    assert.deepEqual([...(report.copied?.keys() ?? [])].sort(), ['package.json', 'sub/a b.txt']);
    const copied = report.copied?.get('sub/a b.txt');
    assert.equal(copied?.size, 12);
    const source = await stat(path.join(dir, 'sub', 'a b.txt'));
    assert.ok(
      Math.abs((copied?.mtimeMs ?? 0) - source.mtimeMs) < 1,
      `${copied?.mtimeMs} vs ${source.mtimeMs}`,
    );
    assert.doesNotMatch(run.logs, /^x$/m, 'the host node_modules is not copied into the cache');
  });
});

describe('runtime entrypoint: a small /tmp (decision 0056)', () => {
  test('no disk limit: with /tmp a 1 MiB tmpfs, the install scratches in /var/tmp and the report goes to BUCKETSPACE_REPORT_DIR', async () => {
    const dir = path.join(root, 'scratch');
    await writeDepsApp(dir, { greeting: 'hi', message: 'm' });
    const run = await toEnd(
      restricted(dir)
        .withSecurityOpt('no-new-privileges')
        .withTmpFs({ '/tmp': 'rw,nosuid,nodev,mode=1777,size=1m' })
        .withEnvironment({
          BUCKETSPACE_REPORT_DIR: '/var/tmp/bucketspace-deploy',
          // 4 MiB of scratch, as a large download would need: more than /tmp holds.
          BUCKETSPACE_INSTALL:
            'head -c 4194304 /dev/zero > "$TMPDIR/scratch" && echo "scratch in $TMPDIR" && npm ci',
        })
        .withCommand(['sh', '-c', "tr '\\0' '\\n' < /var/tmp/bucketspace-deploy/dependencies"]),
    );
    assert.equal(run.exitCode, 0, run.logs);
    assert.match(run.logs, /^scratch in \/var\/tmp$/m);
    assert.match(run.logs, /^installed$/m);
  });
});
