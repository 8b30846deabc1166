import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RunPlan } from '../types.ts';
import {
  buildContainerSpec,
  CONTAINER_CA_PATH,
  type ContainerSpecOptions,
} from './container-spec.ts';
import { LABELS } from './types.ts';

const plan: RunPlan = {
  type: 'node',
  install: 'npm ci',
  start: 'npm start',
  port: 3000,
  env: { NODE_ENV: 'production', PORT: '9999' },
  reason: 'package.json with scripts.start',
  source: 'detected',
};

const base: ContainerSpecOptions = {
  workspace: 'shop',
  hostDir: '/srv/workspaces/shop',
  plan,
  fingerprint: 'abcdef0123456789',
  images: { node: 'img/node', python: 'img/python', go: 'img/go', static: 'img/static' },
  network: 'bucketspace-apps',
  managedBy: 'bucketspace',
  limits: { memoryBytes: 512 * 1024 * 1024, nanoCpus: 1e9, pids: 256, tmpBytes: 64 * 1024 ** 2 },
  stopTimeoutSeconds: 10,
  suffix: 'a1b2c3',
};

test('the spec mounts the source read-only, sets the commands and labels, publishes nothing', () => {
  const spec = buildContainerSpec(base);
  assert.equal(spec.image, 'img/node');
  assert.equal(spec.name, 'bucketspace-shop-abcdef01-a1b2c3');
  assert.deepEqual(spec.binds, [
    { source: '/srv/workspaces/shop', target: '/workspace', readOnly: true },
  ]);
  assert.equal(spec.env.BUCKETSPACE_START, 'npm start');
  assert.equal(spec.env.BUCKETSPACE_INSTALL, 'npm ci');
  assert.equal(spec.env.NODE_ENV, 'production');
  assert.equal(spec.env.PORT, '3000', 'the detected port wins over an env PORT');
  assert.deepEqual(spec.capAdd, []);
  assert.equal(spec.labels[LABELS.workspace], 'shop');
  assert.equal(spec.labels[LABELS.fingerprint], 'abcdef0123456789');
  assert.equal(spec.labels[LABELS.managedBy], 'bucketspace');
  assert.equal(spec.labels[LABELS.type], 'node');
  assert.equal(spec.labels[LABELS.port], '3000');
});

test('replicas: one unless workspace.json asks for more', () => {
  assert.equal(buildContainerSpec(base).replicas, 1);
  assert.equal(buildContainerSpec({ ...base, plan: { ...plan, replicas: 3 } }).replicas, 3);
});

test('no install command is an empty BUCKETSPACE_INSTALL (install nothing), not a missing one', () => {
  const spec = buildContainerSpec({ ...base, plan: { ...plan, install: null } });
  assert.equal(spec.env.BUCKETSPACE_INSTALL, '');
});

test('a CA bundle is mounted and every tool is pointed at it', () => {
  const spec = buildContainerSpec({ ...base, caBundle: '/etc/ssl/corp.pem' });
  assert.deepEqual(spec.binds[1], {
    source: '/etc/ssl/corp.pem',
    target: CONTAINER_CA_PATH,
    readOnly: true,
  });
  for (const key of ['NODE_EXTRA_CA_CERTS', 'npm_config_cafile', 'PIP_CERT', 'SSL_CERT_FILE']) {
    assert.equal(spec.env[key], CONTAINER_CA_PATH, key);
  }
});

test('each runtime type gets its own image', () => {
  for (const type of ['node', 'python', 'go', 'static'] as const) {
    assert.equal(buildContainerSpec({ ...base, plan: { ...plan, type } }).image, `img/${type}`);
  }
});

test('the report goes outside the /tmp tmpfs; the tmpfs size and a writable-layer limit are limits', () => {
  const spec = buildContainerSpec(base);
  assert.equal(spec.env.BUCKETSPACE_REPORT_DIR, '/var/tmp/bucketspace-deploy');
  assert.equal(spec.limits.tmpBytes, 64 * 1024 ** 2);
  assert.equal(spec.limits.writableBytes, undefined);
  const quota = buildContainerSpec({ ...base, limits: { ...base.limits, writableBytes: 2 ** 31 } });
  assert.equal(quota.limits.writableBytes, 2 ** 31);
});
