// The Compose files as files: every variable they read is documented in
// .env.example, every variant (and the external-S3 file with each) is valid
// for every Compose this machine has (v2 and v1: their `config` output
// differs, so it is parsed, not matched as text), nothing is privileged, the
// direct mount's rclone filter is the sync's default exclude list, and every
// image reference is pinned to a release of a repository that still exists.
// (test/stack-e2e-*.test.ts runs them.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DEFAULT_EXCLUDES, rclonePatterns } from '../services/common/ignore/default-excludes.ts';
import { composeVersions, REPO } from './support/compose-stack.ts';
import {
  dockerfileImageReferences,
  imageReferenceProblem,
  imageReferencesOf,
} from './support/image-references.ts';

const FILES = [
  'docker-compose.yml',
  'docker-compose.rclone.yml',
  'docker-compose.s3fs.yml',
  'docker-compose.s3-direct.yml',
  'docker-compose.external-s3.yml',
  'deploy/swarm-stack.yml',
  'deploy/swarm-node-mount.yml',
];
const MOUNT_VARIANTS = [
  [],
  ['docker-compose.rclone.yml'],
  ['docker-compose.s3fs.yml'],
  ['docker-compose.s3-direct.yml'],
];

test('every variable the Compose files read is in .env.example', async () => {
  const example = await readFile(join(REPO, '.env.example'), 'utf8');
  const documented = new Set(example.match(/^[A-Z0-9_]+(?==)/gm) ?? []);
  const missing: string[] = [];
  for (const file of FILES) {
    const text = await readFile(join(REPO, file), 'utf8');
    for (const [, name] of text.matchAll(/\$\{([A-Z0-9_]+)/g)) {
      if (!documented.has(name!)) missing.push(`${name} (${file})`);
    }
  }
  assert.deepEqual([...new Set(missing)], []);
});

interface Volume {
  source?: string;
  target?: string;
  readOnly: boolean;
  propagation?: string;
}

/** v1 prints `src:dst:opts` strings, v2 long-syntax objects: one shape for both. */
function volumeOf(entry: unknown): Volume {
  if (typeof entry === 'string') {
    const [source, target, opts = ''] = entry.split(':');
    const flags = opts.split(',');
    return {
      source,
      target,
      readOnly: flags.includes('ro'),
      propagation: flags.find((f) => /^r?(shared|slave|private)$/.test(f)),
    };
  }
  const v = entry as {
    source?: string;
    target?: string;
    read_only?: boolean;
    bind?: { propagation?: string };
  };
  return {
    source: v.source,
    target: v.target,
    readOnly: v.read_only === true,
    propagation: v.bind?.propagation,
  };
}

interface Service {
  privileged?: boolean;
  cap_add?: string[];
  volumes?: unknown[];
  profiles?: string[];
  depends_on?: Record<string, unknown> | string[];
  environment?: Record<string, string | null> | string[];
  image?: string;
  ports?: unknown[];
  build?: { context?: string; dockerfile?: string };
}

interface Port {
  hostIp: string;
  published: string;
  target: string;
}

/** v1 prints `ip:published:target/tcp` strings, v2 objects: one shape for both. */
function portOf(entry: unknown): Port {
  if (typeof entry === 'string') {
    const [hostIp = '', published = '', target = ''] = entry.replace(/\/tcp$/, '').split(':');
    return { hostIp, published, target };
  }
  const p = entry as { host_ip?: string; published?: string | number; target?: string | number };
  return { hostIp: p.host_ip ?? '', published: String(p.published), target: String(p.target) };
}

function environmentOf(service: Service | undefined): Record<string, string> {
  const env = service?.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((e) => [e.split('=')[0]!, e.slice(e.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v ?? '']));
}

function config(command: string[], files: string[], env: Record<string, string> = {}) {
  const [bin, ...pre] = command;
  const text = execFileSync(
    bin!,
    [...pre, ...files.flatMap((f) => ['-f', join(REPO, f)]), 'config'],
    {
      cwd: REPO,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', BUCKETSPACE_MOUNT_ROOT: '/mnt/x', ...env },
    },
  );
  return parse(text) as { services: Record<string, Service> };
}

test('the Swarm stack file: valid, the monitor on a manager running workspaces as services on an attachable overlay network, no FUSE in it', () => {
  const [compose] = composeVersions();
  assert.ok(compose, 'a Compose to read the stack file with');
  const stack = config(compose.command, ['deploy/swarm-stack.yml'], {
    MINIO_ROOT_USER: 'bucketspace',
    MINIO_ROOT_PASSWORD: 'a-long-enough-password',
    MONITOR_TOKEN: 'a-long-enough-token',
  }) as unknown as {
    services: Record<string, Service & { deploy?: { placement?: { constraints?: string[] } } }>;
    networks: Record<string, { driver?: string; attachable?: boolean; name?: string }>;
  };
  assert.deepEqual(Object.keys(stack.services).sort(), ['bucket', 'minio', 'monitor']);
  const monitor = stack.services.monitor!;
  assert.equal(environmentOf(monitor).RUNTIME_ENGINE, 'swarm');
  // The apps firewall and the disk budget work on one Docker engine: a swarm monitor refuses them.
  assert.equal(environmentOf(monitor).RUNTIME_ISOLATION, 'off');
  assert.equal(environmentOf(monitor).RUNTIME_DISK, 'off');
  assert.deepEqual(monitor.deploy?.placement?.constraints, ['node.role == manager']);
  assert.deepEqual(stack.services.minio?.deploy?.placement?.constraints, [
    'node.labels.bucketspace.s3 == true',
  ]);
  assert.deepEqual(stack.networks.apps, {
    name: 'bucketspace-apps',
    driver: 'overlay',
    attachable: true,
  });
  for (const [name, service] of Object.entries(stack.services)) {
    assert.equal(service.privileged, undefined, name);
    assert.equal(service.cap_add, undefined, `${name}: Swarm services take no devices or FUSE`);
  }
  assert.deepEqual(stack.services.bucket?.deploy?.placement?.constraints, ['node.role == manager']);
  const mount = config(compose.command, ['deploy/swarm-node-mount.yml'], {
    S3_ENDPOINT: 'http://node1:9000',
  }).services.mount;
  assert.deepEqual(mount?.cap_add, ['SYS_ADMIN']);
  // A node's mount is read like docker-compose.yml's read-only mount (decision 0035: no content
  // cache, no kernel-kept sizes, the listing's times), but trusts listings 5 s: no hint reaches it.
  const nodeEnv = environmentOf(mount);
  const stackEnv = environmentOf(config(compose.command, ['docker-compose.yml']).services.mount);
  for (const name of [
    'MOUNT_READ_ONLY',
    'RCLONE_VFS_CACHE_MODE',
    'RCLONE_ATTR_TIMEOUT',
    'RCLONE_USE_SERVER_MODTIME',
  ]) {
    assert.equal(nodeEnv[name], stackEnv[name], name);
  }
  assert.equal(nodeEnv.RCLONE_VFS_CACHE_MODE, 'off');
  assert.equal(nodeEnv.RCLONE_DIR_CACHE_TIME, '5s');
});

for (const compose of composeVersions()) {
  test(`${compose.name}: every variant is a valid Compose project and nothing runs privileged`, () => {
    for (const external of [false, true]) {
      for (const variant of MOUNT_VARIANTS) {
        const files = [
          'docker-compose.yml',
          ...(external ? ['docker-compose.external-s3.yml'] : []),
          ...variant,
        ];
        const { services } = config(compose.command, files);
        const label = files.join(' ');
        for (const [name, service] of Object.entries(services)) {
          assert.notEqual(service.privileged, true, `${label}: ${name} is privileged`);
        }
        assert.ok(services.mount?.cap_add?.includes('SYS_ADMIN'), label);
        const mountRoot = (s: Service | undefined) =>
          (s?.volumes ?? []).map(volumeOf).find((v) => v.target === '/mnt/bucketspace');
        assert.deepEqual(mountRoot(services.mount), {
          source: '/mnt/x',
          target: '/mnt/bucketspace',
          readOnly: false,
          propagation: 'rshared',
        });
        assert.deepEqual(mountRoot(services.monitor), {
          source: '/mnt/x',
          target: '/mnt/bucketspace',
          readOnly: true,
          propagation: 'rslave',
        });
      }
    }
  });

  test(`${compose.name}: the monitor publishes its apps and admin ports on loopback, each under its own number`, () => {
    const defaults = config(compose.command, ['docker-compose.yml']).services.monitor;
    assert.deepEqual((defaults?.ports ?? []).map(portOf), [
      { hostIp: '127.0.0.1', published: '8080', target: '8080' },
      { hostIp: '127.0.0.1', published: '8081', target: '8081' },
    ]);
    const env = environmentOf(defaults);
    assert.equal(env.MONITOR_PORT, '8080');
    assert.equal(env.MONITOR_ADMIN_PORT, '8081');
    assert.equal(env.MONITOR_ADMIN_HOST, '0.0.0.0', 'reachable from the published port');
    // The links the monitor builds from its own ports are the ones browsers use.
    const moved = config(compose.command, ['docker-compose.yml'], {
      MONITOR_PORT: '18080',
      MONITOR_ADMIN_PORT: '18081',
      MONITOR_ADMIN_BIND: '10.0.0.5',
    }).services;
    assert.deepEqual((moved.monitor?.ports ?? []).map(portOf), [
      { hostIp: '127.0.0.1', published: '18080', target: '18080' },
      { hostIp: '10.0.0.5', published: '18081', target: '18081' },
    ]);
    assert.equal(environmentOf(moved.monitor).MONITOR_ADMIN_PORT, '18081');
    assert.equal(environmentOf(moved.check).MONITOR_ADMIN_BIND, '10.0.0.5', 'checked');
  });

  test(`${compose.name}: the stack builds the apps firewall's image, the monitor runs it and gets no capability itself`, () => {
    for (const [settings, image] of [
      [{}, 'bucketspace/apps-firewall:latest'],
      [{ RUNTIME_FIREWALL_IMAGE: 'registry.example/fw:1.2.0' }, 'registry.example/fw:1.2.0'],
    ] as const) {
      const { services } = config(compose.command, ['docker-compose.yml'], settings);
      const firewall = services['apps-firewall'];
      const env = environmentOf(services.monitor);
      assert.equal(env.RUNTIME_ISOLATION, 'firewall', 'apps are kept apart by default');
      assert.equal(env.RUNTIME_FIREWALL_IMAGE, image);
      assert.equal(firewall?.image, image, 'the image the monitor runs is the one built');
      assert.equal(
        join(firewall?.build?.context ?? '', firewall?.build?.dockerfile ?? ''),
        join(REPO, 'images/apps-firewall/Dockerfile'),
      );
      const deps = services.monitor?.depends_on ?? {};
      assert.ok(
        (Array.isArray(deps) ? deps : Object.keys(deps)).includes('apps-firewall'),
        'built before the monitor starts',
      );
      // The monitor runs the firewall through the Docker socket; it needs no privilege.
      assert.deepEqual(services.monitor?.cap_add ?? [], []);
      assert.deepEqual(firewall?.cap_add ?? [], [], 'the service only builds the image');
    }
  });

  test(`${compose.name}: your own S3 leaves out the local server and hands the endpoint and keys to every S3 user, the timeouts to the sync`, () => {
    const env = {
      S3_ENDPOINT: 'https://s3.eu.example.net',
      S3_ACCESS_KEY_ID: 'AKIAOWN',
      S3_SECRET_ACCESS_KEY: 'own-secret',
      S3_BUCKET: 'team-workspaces',
    };
    const { services } = config(
      compose.command,
      ['docker-compose.yml', 'docker-compose.external-s3.yml'],
      env,
    );
    // v2 drops a service whose profile is off; v1 prints it with its profile.
    const minio = services.minio;
    assert.ok(minio === undefined || minio.profiles?.includes('local-s3'), 'no local S3 server');
    for (const name of ['bucket', 'mount', 'sync']) {
      const got = environmentOf(services[name]);
      assert.equal(got.S3_ENDPOINT, env.S3_ENDPOINT, name);
      assert.equal(got.S3_ACCESS_KEY_ID, env.S3_ACCESS_KEY_ID, name);
      assert.equal(got.S3_SECRET_ACCESS_KEY, env.S3_SECRET_ACCESS_KEY, name);
      assert.equal(got.S3_BUCKET, env.S3_BUCKET, name);
    }
    assert.equal(environmentOf(services.check).BUCKETSPACE_S3, 'external');
    // A black-holed S3 is given up on in the sync's own time, as set in .env.
    const timeouts = {
      S3_CONNECT_TIMEOUT: '3s',
      S3_REQUEST_TIMEOUT: '20s',
      S3_RETRY_TIMEOUT: '2m',
    };
    const timed = config(
      compose.command,
      ['docker-compose.yml', 'docker-compose.external-s3.yml'],
      { ...env, ...timeouts },
    ).services;
    const syncEnv = environmentOf(timed.sync);
    for (const [name, value] of Object.entries(timeouts)) assert.equal(syncEnv[name], value, name);
    assert.equal(environmentOf(services.bucket).STACK_CREATE_BUCKET, 'false');
    // Nothing waits on the local server, so nothing pulls it back in.
    for (const [name, service] of Object.entries(services)) {
      const deps = Array.isArray(service.depends_on)
        ? service.depends_on
        : Object.keys(service.depends_on ?? {});
      assert.ok(!deps.includes('minio'), `${name} depends on minio`);
    }
  });
}

test("the direct mount's rclone filter is the sync's default exclude list", async () => {
  const rules = (await readFile(join(REPO, 'images/mount-rclone/default-excludes.rclone'), 'utf8'))
    .split('\n')
    .filter((l) => l.startsWith('- '))
    .map((l) => l.slice(2));
  const expected = rclonePatterns(DEFAULT_EXCLUDES);
  assert.deepEqual(rules, expected);
});

test('what counts as pinned: a release tag or a digest; latest, no tag, a bare major version and withdrawn repositories do not', () => {
  for (const ok of [
    'pgsty/silo:RELEASE.2026-09-16T00-00-00Z',
    'node:24.21.0-bookworm-slim',
    'debian:bookworm-20260824-slim',
    'caddy:2.11.4',
    `caddy@sha256:${'a'.repeat(64)}`,
    'bucketspace/control-plane:latest',
    'bucketspace-local/node:24',
  ]) {
    assert.equal(imageReferenceProblem(ok), undefined, ok);
  }
  for (const [bad, why] of [
    ['minio/minio:RELEASE.2025-04-22T22-12-26Z', /withdrawn/],
    ['docker.io/minio/mc:latest', /withdrawn/],
    ['bitnami/minio:2025.4.22', /withdrawn/],
    ['quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z', /withdrawn/],
    ['pgsty/silo', /no tag/],
    ['pgsty/silo:latest', /latest/],
    ['caddy:2', /does not name a release/],
    ['node:24-bookworm-slim', /does not name a release/],
    ['nginx:stable-bookworm', /does not name a release/],
  ] as const) {
    assert.match(imageReferenceProblem(bad) ?? '', why, bad);
  }
  // A Dockerfile's FROM of an earlier stage is not an image reference.
  assert.deepEqual(
    dockerfileImageReferences(
      'x',
      'ARG BASE_IMAGE=node:24\nFROM ${BASE_IMAGE} AS build\nFROM build\n',
    ),
    [{ where: 'x: ARG BASE_IMAGE', ref: 'node:24' }],
  );
});

test('minio/minio was withdrawn: every image reference in the Compose files and Dockerfiles is pinned, none to a withdrawn repository', async () => {
  const refs = await imageReferencesOf(REPO);
  // The files this is about are really read.
  for (const where of [
    'docker-compose.yml: services.minio.image',
    'deploy/swarm-stack.yml: services.minio.image',
    'images/control-plane/Dockerfile: ARG BASE_IMAGE',
    // The upstream rclone release the mount image users build starts from.
    'docker-compose.yml: services.mount.build.args.RCLONE_IMAGE',
    'images/mount-rclone/Dockerfile: ARG RCLONE_IMAGE',
  ]) {
    assert.ok(
      refs.some((r) => r.where === where),
      `no reference found at ${where}`,
    );
  }
  const problems = refs.flatMap((r) => {
    const problem = imageReferenceProblem(r.ref);
    return problem === undefined ? [] : [`${r.where}: ${problem}`];
  });
  assert.deepEqual(problems, []);
});

test("the Swarm stack file's required-variable messages have no hyphen (docker stack deploy would read the rest as a default)", async () => {
  // `docker stack deploy` splits `${VAR:?message}` at the message's first `-` and takes
  // what follows for a default value: a message naming scripts/setup-s3-mount.sh once
  // set the S3 credentials to "s3-mount.sh writes it to .env)".
  const text = await readFile(join(REPO, 'deploy/swarm-stack.yml'), 'utf8');
  const messages = [...text.matchAll(/\$\{\w+:\?([^}]*)\}/g)].map((m) => m[1]!);
  assert.ok(messages.length >= 3, 'the stack file requires its secrets');
  assert.deepEqual(
    messages.filter((m) => m.includes('-')),
    [],
  );
});
