import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildContainerSpec } from '../containers/container-spec.ts';
import { buildServiceSpec, portCheck, RESTART_POLICY, serviceName } from './service-spec.ts';
import { REVISION_LABEL } from './types.ts';

const spec = buildContainerSpec({
  workspace: 'shop',
  hostDir: '/mnt/bucketspace/workspaces/shop',
  plan: {
    type: 'node',
    install: null,
    start: 'npm start',
    port: 3000,
    env: { MODE: 'x' },
    reason: '',
    source: 'workspace.json',
    replicas: 2,
  },
  fingerprint: 'abcdef0123456789',
  images: { node: 'img/node', python: 'img/python', go: 'img/go', static: 'img/static' },
  network: 'bucketspace-apps',
  managedBy: 'bucketspace',
  limits: { memoryBytes: 512 * 1024 ** 2, nanoCpus: 1e9, pids: 256, tmpBytes: 64 * 1024 ** 2 },
  stopTimeoutSeconds: 10,
  suffix: 'a1b2c3',
  dependencyCache: { volume: 'deps-v', dir: '/app/node_modules', key: 'k1', env: {} },
});

const built = buildServiceSpec({
  spec,
  image: 'sha256:1234',
  placement: {
    reservations: { memoryBytes: 2 * 1024 ** 3, nanoCpus: 1e8 },
    constraints: ['node.role==worker'],
    spreadOver: 'node.id',
  },
  startPeriodMs: 300_000,
  healthIntervalMs: 2_000,
});
const task = built.TaskTemplate as NonNullable<typeof built.TaskTemplate> & {
  ContainerSpec: NonNullable<import('dockerode').ContainerSpec>;
};
const container = task.ContainerSpec;

test('the same container as with Docker: labels (plus the revision), env, read-only source, cache volume, no capabilities', () => {
  assert.equal(built.Name, 'bucketspace-shop');
  assert.equal(container.Image, 'sha256:1234');
  assert.equal(container.Labels?.[REVISION_LABEL], spec.name);
  assert.equal(built.Labels?.[REVISION_LABEL], spec.name);
  assert.equal(container.Labels?.['bucketspace.fingerprint'], 'abcdef0123456789');
  assert.ok(container.Env?.includes('PORT=3000'));
  assert.ok(container.Env?.includes('MODE=x'));
  assert.deepEqual(container.Mounts?.[0], {
    Type: 'bind',
    Source: '/mnt/bucketspace/workspaces/shop',
    Target: '/workspace',
    ReadOnly: true,
  });
  assert.equal(container.Mounts?.[1]?.Type, 'volume');
  assert.equal(container.Mounts?.[1]?.Source, 'deps-v');
  assert.deepEqual(container.CapabilityDrop, ['ALL']);
  assert.equal(container.User, undefined, "the image's non-root user");
  assert.equal(container.StopGracePeriod, 10e9);
});

test('replicas, limits and reservations (never above the limits), placement', () => {
  assert.deepEqual(built.Mode, { Replicated: { Replicas: 2 } });
  assert.deepEqual(task.Resources, {
    Limits: { MemoryBytes: 512 * 1024 ** 2, NanoCPUs: 1e9, Pids: 256 },
    Reservations: { MemoryBytes: 512 * 1024 ** 2, NanoCPUs: 1e8 },
  });
  assert.deepEqual(task.Placement, {
    Constraints: ['node.role==worker'],
    Preferences: [{ Spread: { SpreadDescriptor: 'node.id' } }],
  });
  assert.deepEqual(task.RestartPolicy, { ...RESTART_POLICY });
  assert.deepEqual(task.Networks, [{ Target: 'bucketspace-apps', Aliases: ['shop'] }]);
  assert.deepEqual(built.EndpointSpec, { Mode: 'dnsrr' });
});

test('a rollout starts the new tasks first, once healthy on the port, and pauses on a failure', () => {
  assert.equal(built.UpdateConfig?.Order, 'start-first');
  assert.equal(built.UpdateConfig?.FailureAction, 'pause');
  assert.deepEqual(container.HealthCheck, {
    Test: ['CMD', 'bash', '-c', 'exec 3<>/dev/tcp/127.0.0.1/3000'],
    Interval: 2e9,
    Timeout: 2e9,
    Retries: 3,
    StartPeriod: 300e9,
  });
  assert.deepEqual(portCheck(8080).slice(0, 3), ['CMD', 'bash', '-c']);
});

test('service names: one DNS label per instance and workspace', () => {
  assert.equal(serviceName('test_monitor.1', 'shop'), 'test-monitor-1-shop');
  const long = serviceName('instance', 'w'.repeat(63));
  assert.equal(long.length, 63);
  assert.match(long, /^instance-w+-[0-9a-f]{8}$/);
  assert.notEqual(long, serviceName('instance', `${'w'.repeat(62)}x`));
});
